"""Factories for every model: real rows in the real test database."""
from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from market.extensions import db
from market.models import Achievement, Demand, Field, Organization, Region, User
from market.uscc import check_char

PASSWORD = "Test-pass-2026"
_seq = itertools.count(1)
_hash_cache: list[str] = []


def _password_hash() -> str:
    """A real scrypt hash of PASSWORD (sign-in checks it for real, werkzeug reading the cost from the hash), made
    with a cost of N=1024 instead of the product's N=32768: each sign-in of a factory user costs ~2 ms of CPU
    instead of ~0.1 s (and 32 MB of memory). Passwords the product sets (User.set_password) keep the full cost."""
    if not _hash_cache:
        from werkzeug.security import generate_password_hash

        _hash_cache.append(generate_password_hash(PASSWORD, method="scrypt:1024:8:1"))
    return _hash_cache[0]


def uscc(n: int | None = None, *, area: str = "340300") -> str:
    n = next(_seq) if n is None else n
    body = "91" + area + f"{n:09d}"[-9:]
    return body + check_char(body)


def region_tree() -> dict[str, Region]:
    """A city with two counties, each with one town: enough for every scoping test."""
    out: dict[str, Region] = {}

    def add(key, code, name, level, parent=None):
        r = Region(code=code, name=name, level=level, parent_id=parent.id if parent else None)
        db.session.add(r)
        db.session.flush()
        # The path is written by one UPDATE on the connection and set as the row's loaded value, not as an ORM
        # change: the ORM would take it for a region moved in the tree and rebuild the dashboard summary at the
        # commit (market/outbox.py watch_trees), ~0.4 s per test for a summary no contract of a new region is in.
        path = (parent.path if parent else "/") + f"{r.id}/"
        table = Region.__table__
        db.session.connection().execute(update(table).where(table.c.id == r.id).values(path=path))
        set_committed_value(r, "path", path)
        out[key] = r
        return r

    city = add("city", "340300", "蚌埠市", "city")
    a = add("county_a", "340321", "怀远县", "county", city)
    b = add("county_b", "340322", "五河县", "county", city)
    add("town_a", "340321101", "榴城镇", "town", a)
    add("town_b", "340322101", "城关镇", "town", b)
    db.session.flush()
    return out


def fields() -> dict[str, Field]:
    root = Field(code="04", name="新材料")
    db.session.add(root)
    db.session.flush()
    sub = Field(code="04.01", name="金属材料", parent_id=root.id)
    root2 = Field(code="01", name="电子信息")
    db.session.add_all([sub, root2])
    db.session.flush()
    sub2 = Field(code="01.01", name="软件", parent_id=root2.id)
    db.session.add(sub2)
    db.session.flush()
    return {"materials": sub, "software": sub2, "root_materials": root}


def org(*, region: Region, org_type: str = "enterprise", status: str = "verified", name: str | None = None) -> Organization:
    n = next(_seq)
    o = Organization(
        name=name or f"测试单位{n}",
        uscc=uscc(n),
        org_type=org_type,
        region_id=region.id,
        contact_name="张三",
        contact_phone="0552-1234567",
        status=status,
    )
    db.session.add(o)
    db.session.flush()
    return o


def user(*, role: str, org: Organization | None = None, region: Region | None = None, username: str | None = None,
         active: bool = True, broker_status: str = "approved") -> User:
    n = next(_seq)
    u = User(
        username=username or f"{role}{n}",
        name=f"{role}用户{n}",
        phone="13800000000",
        role=role,
        org_id=org.id if org else None,
        region_id=region.id if region else None,
        broker_cert_no=f"JJR-2026-{n:04d}" if role == "broker" else "",
        active=active,
    )
    if role == "broker":
        u.broker_status = broker_status
    u.password_hash = _password_hash()  # a real scrypt hash, computed once per run
    db.session.add(u)
    db.session.flush()
    return u


def demand(*, owner: User, field: Field, status: str = "draft", title: str = "寻求高透光导电膜玻璃镀膜技术",
           budget: Decimal | None = Decimal("500000"), **kw) -> Demand:
    d = Demand(
        title=title,
        description=kw.pop("description", "现有镀膜工艺方阻偏高，良品率只有八成，希望与高校合作改进磁控溅射工艺。"),
        indicators=kw.pop("indicators", "方阻≤8Ω/□"),
        org_id=owner.org_id,
        owner_id=owner.id,
        region_id=owner.org.region_id,
        field_id=field.id,
        budget=budget,
        deadline=date.today() + timedelta(days=90),
        status=status,
        contact_name="李四",
        contact_phone="0552-7654321",
        keywords=kw.pop("keywords", "导电膜,镀膜,玻璃"),
        **kw,
    )
    d.set_modes(["development"])
    db.session.add(d)
    db.session.flush()
    return d


def achievement(*, owner: User, field: Field, status: str = "draft", title: str = "磁控溅射低方阻透明导电膜制备技术",
                price: Decimal | None = Decimal("800000"), **kw) -> Achievement:
    a = Achievement(
        title=title,
        summary=kw.pop("summary", "本成果采用磁控溅射工艺制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%。"),
        org_id=owner.org_id,
        owner_id=owner.id,
        region_id=owner.org.region_id,
        field_id=field.id,
        maturity=kw.pop("maturity", 6),
        ip_type="invention",
        ip_numbers="ZL202110123456.7",
        ip_status="granted",
        price=price,
        team_lead="王教授",
        status=status,
        contact_name="王五",
        contact_phone="0551-1234567",
        keywords=kw.pop("keywords", "导电膜,磁控溅射"),
        **kw,
    )
    a.set_modes(["transfer", "license"])
    db.session.add(a)
    db.session.flush()
    return a


def contract(*, buyer: Organization, seller: Organization, amount: Decimal = Decimal("100000.00"),
             tech_amount: Decimal | None = None, signed_on: date | None = None, contract_type: str = "development",
             subtype: str = "", field: Field | None = None, achievement_id: int | None = None, voided: bool = False,
             recorded_by: User | None = None, buyer_region: Region | None = None, seller_region: Region | None = None,
             **kw):
    """A registered 技术合同 row (regions default to the parties' own regions)."""
    from market.models import Contract

    n = next(_seq)
    signed_on = signed_on or date.today()
    if recorded_by is None:
        recorded_by_id = db.session.scalar(db.select(User.id).order_by(User.id).limit(1))
        if recorded_by_id is None:
            recorded_by_id = user(role="admin").id
    else:
        recorded_by_id = recorded_by.id
    c = Contract(
        registration_no=kw.pop("registration_no", f"{signed_on.year}3403{n:08d}"),
        title=kw.pop("title", f"测试技术合同{n}"),
        contract_type=contract_type,
        subtype=subtype,
        buyer_org_id=buyer.id,
        seller_org_id=seller.id,
        buyer_region_id=(buyer_region.id if buyer_region else buyer.region_id),
        seller_region_id=(seller_region.id if seller_region else seller.region_id),
        amount=amount,
        tech_amount=amount if tech_amount is None else tech_amount,
        signed_on=signed_on,
        field_id=field.id if field else None,
        achievement_id=achievement_id,
        voided=voided,
        recorded_by_id=recorded_by_id,
        **kw,
    )
    db.session.add(c)
    db.session.flush()
    return c


def suggestion(*, demand: Demand, achievement: Achievement, score: float = 0.82,
               reasons: list[str] | None = None):
    """An engine suggestion row, as the matching engine would store it."""
    import json

    from market.models import Suggestion

    s = Suggestion(demand_id=demand.id, achievement_id=achievement.id, score=score,
                   reasons=json.dumps(reasons if reasons is not None else ["技术领域相同", "关键词重合：导电膜"], ensure_ascii=False))
    db.session.add(s)
    db.session.flush()
    return s


def deal(*, buyer: Organization, seller: Organization, demand: Demand | None = None,
         achievement: Achievement | None = None, broker: User | None = None, stage: str = "contacted", **kw):
    """A deal (对接) at the given stage, regions taken from the organisations, source 'direct' unless given.
    from_interest=True: a deal opened by accepting an interest, as the service opens it (an accepted interest row
    is made and linked), whose parties took part in it (contracts.services._took_part)."""
    from market.models import Deal

    source = kw.pop("source", "direct")
    from_interest = kw.pop("from_interest", False) or source == "interest"  # 'interest': the former source code
    source = "direct" if source == "interest" else source
    if from_interest and "interest_id" not in kw:
        kw["interest_id"] = _accepted_interest(buyer, seller, demand, achievement).id
    d = Deal(
        demand_id=demand.id if demand else None,
        achievement_id=achievement.id if achievement else None,
        buyer_org_id=buyer.id,
        seller_org_id=seller.id,
        buyer_region_id=buyer.region_id,
        seller_region_id=seller.region_id,
        broker_id=broker.id if broker else None,
        stage=stage,
        source=source,
        **kw,
    )
    db.session.add(d)
    db.session.flush()
    return d


def _accepted_interest(buyer: Organization, seller: Organization, demand: Demand | None,
                       achievement: Achievement | None):
    """The accepted interest a deal grew from: the buyer's interest in the result, or the seller's answer to the
    need when there is no result."""
    from market.models import Interest

    kind, author, owner = ("interest", buyer, seller) if achievement is not None else ("solution", seller, buyer)
    author_user = db.session.scalar(db.select(User.id).where(User.org_id == author.id).order_by(User.id).limit(1))
    if author_user is None:
        author_user = user(role="enterprise" if kind == "interest" else "institution", org=author).id
    i = Interest(kind=kind, demand_id=demand.id if demand else None, achievement_id=achievement.id if achievement else None,
                 from_org_id=author.id, from_user_id=author_user, to_org_id=owner.id, message="希望合作",
                 status="accepted", origin="direct")
    db.session.add(i)
    db.session.flush()
    return i


def deal_objects(world, objs) -> None:
    """Objects of the deals, contracts and notifications features for the access matrix: a negotiating deal
    of county A's enterprise and the city university worked by county A's broker, its contract (with a scan),
    a pending interest of the enterprise in the university's result, a suggestion, a notification."""
    from market.contracts.scans import store_scan
    from market.models import Interest, Notification

    u, o = world.users, world.orgs
    objs.deal = deal(buyer=o.ent_a, seller=o.uni, demand=objs.demand, achievement=objs.achievement,
                     broker=u.broker, stage="negotiating", source="suggestion")
    objs.contract = contract(buyer=o.ent_a, seller=o.uni, broker_id=u.broker.id, deal_id=objs.deal.id,
                             scan_path=store_scan(b"%PDF-1.4\n%%EOF\n"), scan_name="合同扫描件.pdf")
    objs.interest = Interest(kind="interest", achievement_id=objs.achievement.id, from_org_id=o.ent_a.id,
                             from_user_id=u.enterprise.id, to_org_id=o.uni.id, message="希望合作")
    db.session.add(objs.interest)
    objs.suggestion = suggestion(demand=objs.demand, achievement=factories_achievement_for_suggestion(world))
    objs.notification = Notification(user_id=u.enterprise.id, kind="test", text="请处理", url="/deals/")
    db.session.add(objs.notification)
    db.session.commit()


def factories_achievement_for_suggestion(world) -> Achievement:
    return achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                       title="待认领推荐中的成果")


def broker_accounts(world) -> tuple[User, User]:
    """Two brokers of county A that may not act: one self-registered with its 服务机构 still pending (nobody looked
    at it), one whose 服务机构 is verified but whose own review refused it. Also set on `world.users`."""
    agency = org(region=world.regions["county_a"], org_type="agency", status="pending", name="怀远待认证技术转移中心")
    pending = user(role="broker", org=agency, region=world.regions["county_a"], username="broker_pending",
                   broker_status="pending")
    rejected = user(role="broker", org=world.orgs.agency, region=world.regions["county_a"], username="broker_rejected",
                    broker_status="rejected")
    rejected.broker_review_note = "证书编号查无此人"
    db.session.commit()
    world.users.pending_broker, world.users.rejected_broker = pending, rejected
    return pending, rejected


def failed_job():
    """A job whose attempts are used up (the admin's 后台任务 page lists it with a retry button)."""
    from market.models import Job

    job = Job(kind="matching.catch_up", payload="{}", status="failed", attempts=3, max_attempts=3,
              error="Traceback (most recent call last):\nRuntimeError: 模拟的失败")
    db.session.add(job)
    db.session.commit()
    return job


def import_run(uploader):
    """A finished background contract import (only its uploader and administrators may open its page)."""
    from market.models import ImportRun

    run = ImportRun(kind="contracts", user_id=uploader.id, filename="合同.xlsx", total=1200, status="done",
                    stored=1200, report="{}")
    db.session.add(run)
    db.session.commit()
    return run


def return_reason(text: str = "信息不完整，请补充技术指标"):
    """A stock reason for 退回 (administrators keep the list; officials pick from it)."""
    from market.models import ReturnReason

    reason = ReturnReason(text=text, sort=1)
    db.session.add(reason)
    db.session.commit()
    return reason


def cleared_disclosure(*, seller: Organization, buyer_name: str, price: Decimal, contract_type: str = "transfer",
                       achievement: Achievement | None = None, ended_days_ago: int = 1):
    """A 协议定价 公示 of `seller` whose period ended without objection: what registering a 高校院所's transfer or
    licence at a negotiated price requires (issue 20, market/transfers/gate.py), for tests not about that rule."""
    from datetime import datetime, timezone

    from market.models import Disclosure

    if achievement is None:
        achievement = db.session.scalar(db.select(Achievement).where(Achievement.org_id == seller.id).limit(1))
    if achievement is None:
        owner = db.session.scalar(db.select(User).where(User.org_id == seller.id).limit(1)) or user(
            role="institution", org=seller)
        achievement = globals()["achievement"](owner=owner, field=db.session.scalar(db.select(Field).limit(1)) or
                                               fields()["materials"], status="published")
    ends = datetime.now(timezone.utc) - timedelta(days=ended_days_ago)
    buyer = db.session.scalar(db.select(Organization).where(Organization.name == buyer_name))
    d = Disclosure(achievement_id=achievement.id, org_id=seller.id, buyer_name=buyer_name,
                   buyer_org_id=buyer.id if buyer else None, contract_type=contract_type, price=price, days=15,
                   starts_at=ends - timedelta(days=15), ends_at=ends, contact_name="张老师", contact_phone="0552-1234567",
                   created_by_id=achievement.owner_id)
    db.session.add(d)
    db.session.flush()
    return d
