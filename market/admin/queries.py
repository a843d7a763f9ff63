"""Administrator reads: filtered lists (select() statements the views paginate), the trees and the overview."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from ..extensions import db
from ..models import Field, Organization, Region, User


def users(*, role: str | None = None, active: bool | None = None, q: str = "") -> Select:
    """Users, newest first; `q` matches username, name or organisation name (LIKE, the text escaped)."""
    stmt = select(User).outerjoin(Organization, User.org_id == Organization.id)
    if role:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if q:
        stmt = stmt.where(or_(
            User.username.icontains(q, autoescape=True),
            User.name.icontains(q, autoescape=True),
            Organization.name.icontains(q, autoescape=True),
        ))
    return stmt.order_by(User.id.desc())


def orgs(*, org_type: str | None = None, status: str | None = None, region: Region | None = None, q: str = "") -> Select:
    """Organisations, newest first; `region` includes everything below it; `q` matches name or 信用代码."""
    stmt = select(Organization)
    if org_type:
        stmt = stmt.where(Organization.org_type == org_type)
    if status:
        stmt = stmt.where(Organization.status == status)
    if region is not None:
        stmt = stmt.where(Organization.region_id.in_(select(Region.id).where(Region.path.startswith(region.path))))
    if q:
        stmt = stmt.where(or_(Organization.name.icontains(q, autoescape=True),
                              Organization.uscc.icontains(q, autoescape=True)))
    return stmt.order_by(Organization.created_at.desc(), Organization.id.desc())


def agency_choices() -> list[tuple[int, str]]:
    rows = db.session.scalars(select(Organization).where(Organization.org_type == "agency").order_by(Organization.name))
    return [(o.id, f"{o.name}（{o.status_label}）") for o in rows]


@dataclass
class TreeRow:
    node: object
    depth: int
    children: int


def _walk(nodes: list, key_parent, sort_key) -> list[TreeRow]:
    by_parent: dict[int | None, list] = {}
    for node in nodes:
        by_parent.setdefault(key_parent(node), []).append(node)
    for items in by_parent.values():
        items.sort(key=sort_key)
    known = {n.id for n in nodes}
    out: list[TreeRow] = []

    def visit(node, depth: int) -> None:
        out.append(TreeRow(node, depth, len(by_parent.get(node.id, []))))
        for child in by_parent.get(node.id, []):
            visit(child, depth + 1)

    # roots, plus any orphan whose parent is missing (shown at the top level rather than lost)
    for node in sorted((n for n in nodes if key_parent(n) is None or key_parent(n) not in known), key=sort_key):
        visit(node, 0)
    return out


def region_tree() -> list[TreeRow]:
    """Every region in tree order (市 → 县区 → 镇街道), siblings by sort then code."""
    nodes = list(db.session.scalars(select(Region)))
    return _walk(nodes, lambda r: r.parent_id, lambda r: (r.sort or 0, r.code))


def field_tree() -> list[TreeRow]:
    nodes = list(db.session.scalars(select(Field)))
    return _walk(nodes, lambda f: f.parent_id, lambda f: (f.sort or 0, f.code, f.id))


def region_parent_choices(exclude: Region | None = None) -> list[tuple[int, str]]:
    """Cities and counties (the only levels that have children), without `exclude` and its subtree."""
    rows = []
    for row in region_tree():
        region = row.node
        if region.level == "town" or (exclude is not None and region.path.startswith(exclude.path)):
            continue
        rows.append((region.id, "　" * row.depth + f"{region.name}（{region.level_label}，{region.code}）"))
    return rows


def top_field_choices() -> list[tuple[int, str]]:
    rows = db.session.scalars(select(Field).where(Field.parent_id.is_(None)).order_by(Field.sort, Field.code))
    return [(f.id, f"{f.code} {f.name}") for f in rows]


def overview() -> dict:
    def grouped(column, model) -> dict[str, int]:
        return dict(db.session.execute(select(column, func.count()).select_from(model).group_by(column)).all())

    return {
        "users_by_role": grouped(User.role, User),
        "users_total": db.session.scalar(select(func.count()).select_from(User)),
        "users_disabled": db.session.scalar(select(func.count()).select_from(User).where(User.active.is_(False))),
        "orgs_by_status": grouped(Organization.status, Organization),
        "orgs_total": db.session.scalar(select(func.count()).select_from(Organization)),
        "regions_by_level": grouped(Region.level, Region),
        "fields_top": db.session.scalar(select(func.count()).select_from(Field).where(Field.parent_id.is_(None))),
        "fields_sub": db.session.scalar(select(func.count()).select_from(Field).where(Field.parent_id.is_not(None))),
    }
