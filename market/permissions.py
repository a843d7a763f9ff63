"""Who may act and where: the verified-actor rule and its gate, role decorators, region scopes, and the load-and-check
helpers for listings and organisations (deals and contracts have theirs in deals/access.py and contracts/access.py)."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import Select

from .extensions import db
from .models import LISTING_MODELS, ListingMixin, Organization, Region, User

# The one rule for acting in the market (README, "How it is built", "Who may act"): an account acts on another
# party's objects or on the official figures only when a person has verified who it is.
#   - administrators and 科技局 officials: accounts that only an administrator can create;
#   - enterprise and institution users: their organisation is verified (认证通过);
#   - brokers: their 服务机构 is verified AND an official of their region or an administrator approved the account
#     after checking its 经纪人证书编号.
# Anyone else who is signed in (organisation pending or rejected, broker not yet approved or refused) may read
# what the public reads, manage their own account and prepare their own drafts, nothing more: every endpoint not
# in OPEN_TO_UNVERIFIED answers 403 with the page that says what is awaited and who decides (init_actor_gate).
OPEN_TO_UNVERIFIED = frozenset({
    "static",
    "main.home",
    "main.healthz",
    "main.workbench",  # says what the account waits for, and shows its drafts
    "auth.login",
    "auth.logout",
    "auth.register",
    "auth.change_password",
    "auth.account_status",
    "listings.browse",
    "listings.detail",
    "listings.mine",
    "listings.create",
    "listings.edit",
    "listings.transition",  # own drafts only (get_listing for_edit); submitting waits for verification
    "members.join",  # an invitation link: joining an organisation is how an account without one gets one
    "search.search",
    "registration.verify",  # the public check of a 登记证明
    "notifications.index",
    "notifications.open_",
    "notifications.read_all",
    "notifications.settings",  # one's own e-mail choices and 退订 links
    "notifications.unsubscribe",
    "notifications.subscriptions",  # subscriptions to public listings
    "notifications.subscription_new",
    "notifications.subscription_delete",
    "happenings.index",  # the public list and page of events
    "happenings.detail",
    "agencies.index",  # the public directory of 服务机构, an agency's page, a broker's opted-in profile
    "agencies.detail",
    "agencies.broker",
    "campaigns.index",  # the public page of 揭榜挂帅 campaigns, a campaign, a 榜 with its 公示
    "campaigns.detail",
    "campaigns.task",
})
# the open API's public reads and its document (issue 21): the API ignores the session cookie, so who is signed in
# in the browser does not matter there
OPEN_TO_UNVERIFIED |= {"api.demands_list", "api.demands_detail", "api.achievements_list", "api.achievements_detail",
                       "api.search", "api.campaigns_list", "api.events_list", "api-docs.openapi_json",
                       "api_pages.docs"}
OPEN_TO_UNVERIFIED |= {"auctions.index", "auctions.session_detail",  # 竞价: the public sessions, lots and
                       "auctions.lot_detail", "auctions.lot_state"}  # their live state (issue 20)
OPEN_TO_UNVERIFIED |= {"transfers.disclosures", "transfers.disclosure",  # the public 公示 and 挂牌 pages (issue 20)
                       "transfers.listings", "transfers.listing"}


def is_verified_actor(user) -> bool:
    """True when `user` may act on other parties' objects and the official figures (the rule above)."""
    if not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if user.role in ("admin", "official", "registrar"):  # 登记员 accounts are created by an admin or city official
        return True
    org = user.org
    if org is None or not org.is_verified:
        return False
    if user.role == "broker":
        return user.broker_status == "approved"
    return user.role in ("enterprise", "institution")


def verified_brokers() -> Select:
    """Ids of the broker accounts that may act (the rule above, as SQL): for notifications and assignment."""
    return (
        db.select(User.id)
        .join(Organization, Organization.id == User.org_id)
        .where(User.role == "broker", User.active.is_(True), User.broker_status == "approved",
               Organization.status == "verified")
    )


def require_verified_actor(user) -> None:
    """Services call this before any act on another party's object or an official figure (CLI paths included)."""
    from .errors import NotAllowed

    if not is_verified_actor(user):
        raise NotAllowed(unverified_reason(user))


def unverified_reason(user) -> str:
    """What the account waits for, and who decides, in one sentence."""
    org = getattr(user, "org", None)
    region = getattr(user, "region", None) or (org.region if org is not None else None)
    decider = f"{region.name}科技局工作人员或系统管理员" if region is not None else "所在区域科技局工作人员或系统管理员"
    if org is not None and org.status == "rejected":
        note = f"（理由：{org.review_note}）" if org.review_note else ""
        return f"您所在单位“{org.name}”认证未通过{note}，在重新认证通过前不能办理该业务。如有疑问请联系{decider}。"
    if org is not None and org.status != "verified":
        what = "单位认证" if user.role != "broker" else "服务机构认证和技术经纪人资格审核"
        return f"您所在单位“{org.name}”正在等待{what}，由{decider}审核。审核通过前您可以浏览公开信息、编辑自己的草稿，不能办理该业务。"
    if user.role == "broker" and user.broker_status == "rejected":
        note = f"（理由：{user.broker_review_note}）" if user.broker_review_note else ""
        return f"您的技术经纪人资格审核未通过{note}，不能办理经纪业务。如有疑问请联系{decider}。"
    if user.role == "broker":
        return (f"您的技术经纪人账号正在等待审核：由{decider}核验经纪人证书编号后开通。"
                "审核通过前不能查看推荐队列、认领对接或登记合同。")
    return "您的账号尚未通过认证，不能办理该业务。"


def init_actor_gate(app) -> None:
    """Refuse every endpoint outside OPEN_TO_UNVERIFIED to a signed-in account that is not a verified actor."""
    from flask import render_template, request, session

    @app.before_request
    def _actor_gate():
        # no signed-in session: nothing to gate (and the session's cookie stays untouched for the page cache)
        if "_user_id" not in session or request.endpoint in OPEN_TO_UNVERIFIED or request.endpoint is None:
            return None
        if not current_user.is_authenticated or is_verified_actor(current_user):
            return None
        return render_template("auth/status.html", reason=unverified_reason(current_user), refused=True), 403


def roles_required(*roles: str):
    """Signed-in users of the given roles only (admin is not implied: list it when meant)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from flask import current_app

                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def admins_only():
    """A blueprint's before_request for administrators' pages, every method: anonymous -> sign in; any other
    role -> 403 (admin and jobs blueprints)."""
    if not current_user.is_authenticated:
        from flask import current_app

        return current_app.login_manager.unauthorized()
    if current_user.role != "admin":
        abort(403)
    return None


def user_region(user) -> Region | None:
    return db.session.get(Region, user.region_id) if user.region_id else None


def in_scope(user, region: Region | None) -> bool:
    """Admins everywhere; officials and verified brokers on their region and below; nobody else."""
    if user.role == "admin":
        return True
    if user.role in ("official", "broker") and user.region_id and is_verified_actor(user):
        scope = user_region(user)
        return scope is not None and scope.contains(region)
    return False


def region_in_scope(user, region_id: int | None) -> bool:
    """in_scope by region id, for the deals' and contracts' checks: admins everywhere, no region nowhere else."""
    if user.role == "admin":
        return True
    if region_id is None:
        return False
    return in_scope(user, db.session.get(Region, region_id))


def scope_region_ids(user) -> Select | None:
    """The ids of the user's region and every region below it, as a subquery; None when the user has no region.
    It does not check the user's role or verification: callers filter by it after those checks."""
    scope = user_region(user)
    if scope is None:
        return None
    return db.select(Region.id).where(Region.path.startswith(scope.path))


def scope_filter(stmt: Select, user, region_column) -> Select:
    """Restrict a select to rows whose region lies in the user's scope: admins unrestricted, verified officials
    and brokers their region and below, anyone else nothing."""
    if user.role == "admin":
        return stmt
    if not is_verified_actor(user):
        return stmt.where(False)
    sub = scope_region_ids(user)
    if sub is None:
        return stmt.where(False)
    return stmt.where(region_column.in_(sub))


def can_review(user, listing: ListingMixin) -> bool:
    if user.role == "admin":
        return True
    return user.role == "official" and in_scope(user, listing.region)


def can_view_listing(user, listing: ListingMixin) -> bool:
    if listing.is_public:
        return True
    if not user.is_authenticated:
        return False
    return is_listing_owner(user, listing) or can_review(user, listing)


def is_listing_owner(user, listing: ListingMixin) -> bool:
    return user.is_authenticated and user.org_id is not None and listing.org_id == user.org_id


def get_listing(kind: str, listing_id: int, *, for_edit: bool = False) -> ListingMixin:
    """Load a listing and check access: 404 when it does not exist or may not be seen."""
    model = LISTING_MODELS[kind]
    listing = db.session.get(model, listing_id)
    if listing is None:
        abort(404)
    if for_edit:
        if not is_listing_owner(current_user, listing):
            abort(404 if not can_view_listing(current_user, listing) else 403)
        return listing
    if not can_view_listing(current_user, listing):
        abort(404)
    return listing


def get_org_for_review(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        abort(404)
    if not (current_user.role == "admin" or (current_user.role == "official" and in_scope(current_user, org.region))):
        abort(404)
    return org


def get_broker_for_review(user_id: int) -> User:
    broker = db.session.get(User, user_id)
    if broker is None or broker.role != "broker":
        abort(404)
    if not (current_user.role == "admin" or (current_user.role == "official" and in_scope(current_user, broker.region))):
        abort(404)
    return broker


def can_see_contact(user, listing: ListingMixin) -> bool:
    """Public contacts, the owner and reviewers; otherwise features may grant it (an accepted interest)."""
    if listing.contact_public and listing.is_public:
        return True
    if not user.is_authenticated:
        return False
    if is_listing_owner(user, listing) or can_review(user, listing):
        return True
    if not is_verified_actor(user):
        return False  # a grant (a deal, an accepted interest) counts only while its holder may act
    from .registries import registries

    return any(grant(user, listing) for grant in registries().contact_grants)
