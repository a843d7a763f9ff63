"""What the deals feature hooks into: a listing page's interest panel, and contacts shown to deal parties."""
from __future__ import annotations


def init_app(app) -> None:
    from ..registries import registries
    from .routes import listing_panel
    from .services import contact_grant

    registries(app).contact_grants.append(contact_grant)
    registries(app).listing_panels.append(listing_panel)
