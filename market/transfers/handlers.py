"""What transfers adds to other features' pages: the 公示 and 挂牌 of a result on its page (market/registries.py)."""
from __future__ import annotations

from flask import Flask

from ..registries import registries
from . import routes


def init_app(app: Flask) -> None:
    registries(app).listing_panels.append(routes.listing_panel)
