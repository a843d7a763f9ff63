"""What the contracts feature hooks into: links waiting for a listing owner's answer, on the listing's page."""
from __future__ import annotations


def init_app(app) -> None:
    from ..registries import registries
    from .routes import link_panel

    registries(app).listing_panels.append(link_panel)
