"""What the notifications feature hooks into: the unread count in the navigation."""
from __future__ import annotations


def init_app(app) -> None:
    from ..registries import registries
    from .queries import unread_count

    registries(app).unread_counter = unread_count
