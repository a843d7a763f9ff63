"""Extension points one feature offers another, asked while a page is built (not events: these answer).

    listing_panels   (listing) -> Markup | None   boxes on a listing's page below its text, in registration order:
                                                  suggestions (matching), interests and deals (deals), contract
                                                  links waiting for the owner (contracts)
    contact_grants   (user, listing) -> bool      True lets `user` see the listing's hidden contact (an accepted
                                                  interest, a deal in progress: deals)
    unread_counter   (user) -> int                the 通知 badge in the navigation (notifications)

Each feature fills them from its own `handlers.init_app(app)`, which create_app calls (market/blueprints.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app


@dataclass
class Registries:
    listing_panels: list[Callable] = field(default_factory=list)
    contact_grants: list[Callable] = field(default_factory=list)
    unread_counter: Callable | None = None


def init_registries(app: Flask) -> None:
    app.extensions["market.registries"] = Registries()


def registries(app: Flask | None = None) -> Registries:
    return (app or current_app).extensions["market.registries"]
