"""Role decorators and load-and-check helpers: every object is checked for access here."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import Select

from .extensions import db
from .models import LISTING_MODELS, ListingMixin, Organization, Region


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


def user_region(user) -> Region | None:
    return db.session.get(Region, user.region_id) if user.region_id else None


def in_scope(user, region: Region | None) -> bool:
    """Admins everywhere; officials on their region and below; nobody else via this helper."""
    if user.role == "admin":
        return True
    if user.role in ("official", "broker") and user.region_id:
        scope = user_region(user)
        return scope is not None and scope.contains(region)
    return False


def scope_filter(stmt: Select, user, region_column) -> Select:
    """Restrict a select to rows whose region lies in the user's scope (admin: unrestricted)."""
    if user.role == "admin":
        return stmt
    scope = user_region(user)
    if scope is None:
        return stmt.where(False)
    sub = db.select(Region.id).where(Region.path.startswith(scope.path))
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


def can_see_contact(user, listing: ListingMixin) -> bool:
    """Public contacts, the owner and reviewers; otherwise features may grant it (an accepted interest)."""
    from flask import current_app

    if listing.contact_public and listing.is_public:
        return True
    if not user.is_authenticated:
        return False
    if is_listing_owner(user, listing) or can_review(user, listing):
        return True
    return any(grant(user, listing) for grant in current_app.extensions.get("market.contact_grants", []))
