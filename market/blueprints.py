"""Every feature's blueprint, registered in one place."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from .admin.routes import bp as admin_bp
    from .auth.routes import bp as auth_bp
    from .listings.routes import bp as listings_bp
    from .main.routes import bp as main_bp
    from .review.routes import bp as review_bp

    for bp in (main_bp, auth_bp, listings_bp, review_bp, admin_bp):
        app.register_blueprint(bp)
