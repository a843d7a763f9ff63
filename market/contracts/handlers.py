"""What the contracts feature hooks into: links waiting for a listing owner's answer, on the listing's page; the
background job of large imports (market/contracts/import_runs.py)."""
from __future__ import annotations


def init_app(app) -> None:
    from ..registries import registries
    from . import import_runs  # noqa: F401 - registers the job kind "contracts.import"
    from .routes import link_panel

    registries(app).listing_panels.append(link_panel)
