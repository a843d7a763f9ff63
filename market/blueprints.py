"""Every feature's blueprint and handlers, registered in one place."""
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

    from .contracts.routes import bp as contracts_bp
    from .deals.routes import bp as deals_bp
    from .notifications.routes import bp as notifications_bp

    for bp in (deals_bp, contracts_bp, notifications_bp):
        app.register_blueprint(bp)

    from .matching.routes import bp as matching_bp
    from .search.routes import bp as search_bp

    for bp in (search_bp, matching_bp):
        app.register_blueprint(bp)

    from .dashboard.routes import bp as dashboard_bp
    from .jobs.routes import bp as jobs_bp

    app.register_blueprint(dashboard_bp)
    app.register_blueprint(jobs_bp)

    from .registration.routes import bp as registration_bp

    app.register_blueprint(registration_bp)

    from .members.routes import bp as members_bp

    app.register_blueprint(members_bp)

    from .happenings.routes import bp as happenings_bp

    app.register_blueprint(happenings_bp)  # events: 路演, 对接会, 成果巡展

    from .agencies.routes import bp as agencies_bp

    app.register_blueprint(agencies_bp)  # 服务机构, 技术经纪人, 专家库 (issue 19 section 3)

    from .campaigns.routes import bp as campaigns_bp

    app.register_blueprint(campaigns_bp)  # 揭榜挂帅 campaigns (issue 19 section 1)

    from .api import init_api

    init_api(app)  # the open JSON API under /api/v1 and the account's API tokens (issue 21)

    from .auctions.routes import bp as auctions_bp

    app.register_blueprint(auctions_bp)  # 竞价 sessions (issue 20 sections 3-4)

    from .transfers.routes import bp as transfers_bp

    app.register_blueprint(transfers_bp)  # 协议定价 公示 and 挂牌 (issue 20 sections 1-2)


def register_handlers(app: Flask) -> None:
    """Each feature connects its event handlers, job kinds and extension points (market/events.py,
    market/jobs, market/registries.py) from its own handlers module; the order is the order of the panels on a
    listing's page."""
    from .contracts import handlers as contracts_handlers
    from .deals import handlers as deals_handlers
    from .matching import handlers as matching_handlers
    from .notifications import handlers as notifications_handlers

    for feature in (deals_handlers, contracts_handlers, notifications_handlers, matching_handlers):
        feature.init_app(app)

    from .agencies import routes as agencies_routes
    from .registries import registries

    registries(app).listing_panels.append(agencies_routes.listing_panel)  # 需求征集 on a need's page

    from .search import rebuild as search_rebuild

    search_rebuild.init_app(app)  # every node's consumer applies all-nodes index rebuilds on its sweep

    from .auctions import handlers as auctions_handlers

    auctions_handlers.init_app(app)  # lots past their end are closed by the sweep and `flask auctions close-due`

    from .transfers import handlers as transfers_handlers

    transfers_handlers.init_app(app)  # a result's 公示 and 挂牌 on its page
