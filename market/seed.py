"""The demo market: one city, its sub-markets, companies with needs, universities with results.

The demo's content (companies, institutions, ~40 results written as technologies, needs written as companies
write them) is in market/data/demo_market.json. CSL paper abstracts are added as volume when that data file is
found (`csl_path`: MARKET_CSL_PATH, else the data folder beside the checkout), published before the demo's own
results so that lists, newest first, show the technologies first. The demo and the product run without it.
"""
from __future__ import annotations

import json
import os
import random
import secrets
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .config import PROJECT_ROOT
from .extensions import db
from .formtokens import new_form_token
from .models import Achievement, Demand, Field, ListingEvent, Organization, Region, RegPoint, User
from .models.base import utcnow
from .money import parse_wan
from .orgs import org_new

DEMO_PASSWORD = "Demo@2026pass"
CSL_LIMIT = 240  # results taken from the CSL file for the demo (technical categories only)
DEMO_CONTRACT_DAYS = 700  # demo contracts are spread over the days before the seed, this year and last
# contract types and the share of each in the demo, roughly as in 技术合同认定登记 statistics
DEMO_CONTRACT_TYPES = (("技术开发", "委托开发", 30), ("技术开发", "合作开发", 15), ("技术服务", "", 25),
                       ("技术转让", "专利权转让", 8), ("技术转让", "技术秘密转让", 4), ("技术许可", "专利实施许可", 8),
                       ("技术咨询", "", 10))
DEMO_CONTRACT_WAN = (3, 5, 8, 12, 15, 20, 28, 35, 50, 60, 80, 120, 150, 200, 260, 380, 500)
# institutions outside 蚌埠 are placed where they are (issue 16), by the district of their main campus
DEMO_INSTITUTION_PLACES = {"中国科学技术大学": "340111", "合肥工业大学": "340111", "中国科学院合肥物质科学研究院": "340104",
                           "安徽农业大学": "340104", "安徽中医药大学": "340104", "安徽理工大学": "340403",
                           "安徽科技学院": "341126"}
# partners elsewhere: (name, type, 行政区划代码 or None, 国别); they sell to, or buy from, 蚌埠 companies
DEMO_PARTNERS = (("上海交通大学", "university", "310104", "CN"), ("清华大学", "university", "110108", "CN"),
                 ("上海联影智能医疗科技有限公司", "enterprise", "310115", "CN"),
                 ("德国弗劳恩霍夫应用研究促进协会", "institute", None, "DE"))


def csl_path() -> Path:
    """The CSL abstracts file the demo may take results from: a data file kept outside the repository, read only by
    the demo seed and bench/matching.py when present; nothing else needs it."""
    return Path(os.environ.get("MARKET_CSL_PATH") or PROJECT_ROOT.parent / "shared" / "data" / "csl-dev.jsonl")


def ensure_regions(rows: list[dict]) -> dict[str, Region]:
    by_code = {r.code: r for r in db.session.scalars(select(Region))}
    for i, row in enumerate(rows):
        if row["code"] in by_code:
            continue
        parent = by_code.get(row.get("parent_code") or "")
        region = Region(code=row["code"], name=row["name"], level=row["level"], parent_id=parent.id if parent else None, sort=i)
        db.session.add(region)
        db.session.flush()
        region.path = (parent.path if parent else "/") + f"{region.id}/"
        by_code[region.code] = region
    db.session.flush()
    return by_code


def _user(username: str, name: str, role: str, *, org: Organization | None = None, region: Region | None = None,
          cert: str = "", phone: str = "") -> User:
    user = User(username=username, name=name, role=role, org_id=org.id if org else None,
                region_id=region.id if region else None, broker_cert_no=cert, phone=phone or "13955200000")
    if role == "broker":  # the demo's brokers were reviewed when the market was set up
        user.broker_status = "approved"
        user.broker_reviewed_at = utcnow()
    user.password_hash = _demo_hash()
    db.session.add(user)
    return user


_hash_cache: list[str] = []


def _demo_hash() -> str:
    """scrypt is deliberately slow: hash the shared demo password once."""
    if not _hash_cache:
        probe = User()
        probe.set_password(DEMO_PASSWORD)
        _hash_cache.append(probe.password_hash)
    return _hash_cache[0]


def _publish(listing, actor: User, when) -> None:
    listing.status = "published"
    listing.published_at = when
    db.session.flush()
    db.session.add_all([
        ListingEvent(kind=listing.KIND, listing_id=listing.id, actor_id=listing.owner_id, from_status=None, to_status="draft", reason="创建", at=when),
        ListingEvent(kind=listing.KIND, listing_id=listing.id, actor_id=listing.owner_id, from_status="draft", to_status="pending", reason="", at=when),
        ListingEvent(kind=listing.KIND, listing_id=listing.id, actor_id=actor.id, from_status="pending", to_status="published", reason="", at=when),
    ])


def _achievement_rows() -> list[dict]:
    from .data import demo

    rows = list(demo.BUILTIN_ACHIEVEMENTS)
    path = csl_path()
    if path.exists():
        taken = 0
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row.get("category") not in demo.CSL_TECH_CATEGORIES:
                    continue
                rows.append(demo.csl_achievement(row))
                taken += 1
                if taken >= CSL_LIMIT:
                    break
    return rows


def _achievement_published(now, i: int, row: dict):
    """The demo's own results over the last weeks, the first row newest; the CSL papers before all of them
    (three months to a year and a half back), so that they come after the technologies, newest first."""
    if row.get("source") == "csl":
        return now - timedelta(days=90 + (i * 7) % 450, hours=i % 24)
    return now - timedelta(days=i, hours=1 + i % 5)


def seed_demo_data() -> list[tuple[str, str, str]]:
    """Write the demo market; returns (role, username, description) for the printed log-ins."""
    from .data import demo
    from .data.regions import DEMO_CITY
    from .reference import ensure_fields

    ensure_fields()
    from .contracts.regcodes import ensure_reg_codes

    ensure_reg_codes()
    from .registration.calendar import ensure_seed

    ensure_seed()
    regions = ensure_regions(DEMO_CITY)
    fields = {f.code: f for f in db.session.scalars(select(Field))}
    city = next(r for r in regions.values() if r.level == "city")
    counties = sorted((r for r in regions.values() if r.level == "county"), key=lambda r: r.code)
    now = utcnow()
    logins: list[tuple[str, str, str]] = []

    admin = _user("admin", "系统管理员", "admin")
    city_official = _user("kjj_city", "市科技局 王科长", "official", region=city)
    logins += [("管理员", "admin", "全部权限"), ("市科技局", "kjj_city", f"{city.name}及以下")]
    for i, county in enumerate(counties, 1):
        _user(f"kjj_{county.code}", f"{county.name}科技局", "official", region=county)
        if i == 1:
            logins.append(("县区科技局", f"kjj_{county.code}", f"{county.name}及以下（各县区账号为 kjj_+区划代码）"))

    # 技术合同登记: the city's own 登记点 (the 科技局's 登记处) and one in the first county, each with a 登记员
    for n, (region, point_name) in enumerate(((city, f"{city.name}技术合同登记处"),
                                              (counties[0], f"{counties[0].name}科技局技术合同登记点")), 1):
        point = RegPoint(name=point_name, kind="bureau", region_id=region.id, division=region.code[:6], serial=1,
                         active=True)
        db.session.add(point)
        db.session.flush()
        registrar = _user(f"djy{n:02d}", f"{point_name} 登记员", "registrar")
        registrar.reg_point_id = point.id
    logins.append(("登记员", "djy01", f"{city.name}技术合同登记处（djy02：{counties[0].name}）"))

    agency = org_new(name=f"{city.name}科技大市场技术转移服务中心", uscc=demo_agency_uscc(), org_type="agency",
                     region_id=city.id, status="verified", verified_at=now, contact_name="刘经纪",
                     contact_phone="0552-2088001")
    for i, county in enumerate(counties[:3], 1):
        _user(f"broker{i:02d}", f"技术经纪人{'甲乙丙'[i - 1]}", "broker", org=agency, region=county, cert=f"AHJJR-2025-{i:04d}")
    logins.append(("技术经纪人", "broker01", f"{counties[0].name}（broker01-03）"))

    companies = []
    for i, row in enumerate(demo.COMPANIES, 1):
        org = org_new(name=row["name"], uscc=row["uscc"], org_type="enterprise",
                      region_id=regions[row["region_code"]].id, contact_name=row["contact_name"],
                      contact_phone=row["contact_phone"], address=row.get("address", ""), status="verified",
                      verified_at=now)
        user = _user(f"ent{i:02d}", row["contact_name"], "enterprise", org=org, phone=row["contact_phone"])
        companies.append((org, user))
    logins.append(("企业", "ent01", f"{demo.COMPANIES[0]['name']}（ent01-{len(companies):02d}）"))

    institutions = []
    for i, row in enumerate(demo.INSTITUTIONS, 1):
        elsewhere = DEMO_INSTITUTION_PLACES.get(row["name"])
        org = org_new(name=row["name"], uscc=row["uscc"], org_type=row["type"],
                      region_id=None if elsewhere else regions[row["region_code"]].id, division_code=elsewhere,
                      contact_name=row.get("contact_name", ""),
                      contact_phone=row.get("contact_phone", ""), status="verified", verified_at=now)
        user = _user(f"inst{i:02d}", row.get("contact_name") or f"{row['name']}成果转化办", "institution", org=org,
                     phone=row.get("contact_phone", ""))
        institutions.append((org, user))
    logins.append(("高校院所", "inst01", f"{demo.INSTITUTIONS[0]['name']}（inst01-{len(institutions):02d}）"))
    logins += _seed_experts(city_official, city, [org for org, _ in institutions], fields)
    # one company waiting for verification, so the review queue has work
    pending_org = org_new(name="蚌埠新申报科技有限公司", uscc=demo_pending_uscc(), org_type="enterprise",
                          region_id=counties[0].id, contact_name="赵新")
    _user("ent_new", "赵新", "enterprise", org=pending_org)
    logins.append(("待认证企业", "ent_new", "单位待认证：可存草稿，不能发布"))
    db.session.flush()

    for i, row in enumerate(demo.DEMANDS):  # the first row is the newest: lists show it first
        org, user = companies[row["company"]]
        d = Demand(org_id=org.id, owner_id=user.id, region_id=org.region_id, title=row["title"], description=row["description"],
                   indicators=row.get("indicators", ""), field_id=fields[row["field_code"]].id,
                   keywords=",".join(row["keywords"]), budget=parse_wan(row["budget_wan"]) if row.get("budget_wan") else None,
                   deadline=date.today() + timedelta(days=row.get("deadline_days", 180)),
                   contact_name=user.name, contact_phone=org.contact_phone, contact_public=row.get("contact_public", False))
        d.set_modes(row["modes"])
        db.session.add(d)
        db.session.flush()
        if i % 12 == 11:
            d.status = "pending"  # some needs wait for review
            db.session.add(ListingEvent(kind="demand", listing_id=d.id, actor_id=user.id, from_status="draft", to_status="pending"))
        else:
            _publish(d, city_official, now - timedelta(days=i, hours=2 + i % 7))

    for i, row in enumerate(_achievement_rows()):
        org, user = institutions[row["institution"] % len(institutions)]
        a = Achievement(org_id=org.id, owner_id=user.id, region_id=org.region_id, title=row["title"][:120], summary=row["summary"],
                        field_id=fields[row["field_code"]].id, keywords=",".join(row["keywords"])[:300],
                        maturity=row.get("maturity"), ip_type=row.get("ip_type", ""),
                        ip_numbers="、".join(row.get("ip_numbers") or [])[:300], ip_status="granted" if row.get("ip_numbers") else "",
                        price=parse_wan(row["price_wan"]) if row.get("price_wan") else None,
                        team_lead=row.get("team_lead", ""), team_members="、".join(row.get("team_members") or [])[:300],
                        contact_name=user.name, contact_phone=org.contact_phone, contact_public=i % 3 == 0,
                        external_id=row.get("source_id"))
        a.set_modes(row["modes"])
        db.session.add(a)
        db.session.flush()
        _publish(a, city_official, _achievement_published(now, i, row))
    db.session.flush()
    _seed_contracts(city_official, [org for org, _ in companies], [org for org, _ in institutions], regions)
    _seed_targets(admin, city_official, city, counties)
    return logins


def _seed_contracts(official: User, companies: list[Organization], institutions: list[Organization],
                    regions: dict[str, Region]) -> None:
    """Contracts registered before the platform, imported by the city official as a bureau would: most
    companies have a few with universities and institutes, some have none (产学研 coverage has a list to show)."""
    from .contracts.importer import import_contracts
    from .dashboard.queries import today as dashboard_today

    rng = random.Random(20260301)
    by_id = {r.id: r for r in regions.values()}
    fields = {org.id: [d.field.code for d in db.session.scalars(select(Demand).where(Demand.org_id == org.id))]
              for org in companies}
    buyers = [org for org in companies if fields[org.id]][: max(1, len(companies) * 4 // 5)]
    today = dashboard_today()  # the demo's figures are the dashboard's "this year" (tests freeze it)
    numbers: dict[int, int] = {}
    rows = []
    weights = [w for _, _, w in DEMO_CONTRACT_TYPES]

    def place(org: Organization, side: str) -> dict:
        if org.region_id is not None:
            return {f"{side}_region": by_id[org.region_id].code}
        return {f"{side}_division": org.division_code or "", f"{side}_country": org.country}

    for i in range(170):
        buyer = buyers[i % len(buyers)] if i < len(buyers) else rng.choice(buyers)
        seller = rng.choice(institutions)
        ctype, subtype, _ = rng.choices(DEMO_CONTRACT_TYPES, weights)[0]
        amount = Decimal(rng.choice(DEMO_CONTRACT_WAN) * 10000 + rng.randrange(0, 100) * 100)
        tech = (amount * Decimal(rng.choice(("1", "1", "0.95", "0.9", "0.8", "0.7")))).quantize(Decimal("1"))
        # more of them recently, as in a market that grows: 60 % spread evenly, 40 % leaning to the last months
        back = rng.randrange(0, DEMO_CONTRACT_DAYS) if rng.random() < 0.6 else int(rng.triangular(0, DEMO_CONTRACT_DAYS, 0))
        signed_on = today - timedelta(days=back)
        numbers[signed_on.year] = numbers.get(signed_on.year, 0) + 1
        rows.append((i + 1, {
            "registration_no": f"{signed_on.year}340300{numbers[signed_on.year]:06d}",
            "type": ctype, "subtype": subtype, "buyer": buyer.name, "seller": seller.name,
            **place(buyer, "buyer"), **place(seller, "seller"),
            "amount": f"{amount:.2f}", "tech_amount": f"{tech:.2f}", "signed_on": signed_on.isoformat(),
            "field": rng.choice(fields[buyer.id]),
        }))
    # partners in Shanghai, Beijing and abroad: they license to 蚌埠 companies, and a Shanghai company buys from
    # 蚌埠学院 (输出 to 外省), so that 吸纳 and 输出 differ by origin
    now = utcnow()
    partners = {name: org_new(name=name, org_type=kind, region_id=None, division_code=code, country=country,
                              status="verified", verified_at=now) for name, kind, code, country in DEMO_PARTNERS}
    local_seller = next(org for org in institutions if org.region_id is not None)
    deals_outside = [(partners["上海交通大学"], "技术开发", "委托开发"), (partners["清华大学"], "技术转让", "专利权转让"),
                     (partners["德国弗劳恩霍夫应用研究促进协会"], "技术许可", "专利实施许可"),
                     (partners["上海交通大学"], "技术服务", ""), (partners["清华大学"], "技术开发", "合作开发")]
    for j in range(12):
        buyer = buyers[j % len(buyers)]
        partner, ctype, subtype = deals_outside[j % len(deals_outside)]
        seller = partner
        if j % 4 == 3:  # 输出: a Shanghai company commissions 蚌埠学院
            buyer, seller, ctype, subtype = partners["上海联影智能医疗科技有限公司"], local_seller, "技术开发", "委托开发"
        amount = Decimal(rng.choice(DEMO_CONTRACT_WAN) * 10000)
        signed_on = today - timedelta(days=rng.randrange(0, DEMO_CONTRACT_DAYS))
        numbers[signed_on.year] = numbers.get(signed_on.year, 0) + 1
        rows.append((len(rows) + 1, {
            "registration_no": f"{signed_on.year}340300{numbers[signed_on.year]:06d}",
            "type": ctype, "subtype": subtype, "buyer": buyer.name, "seller": seller.name,
            **place(buyer, "buyer"), **place(seller, "seller"),
            "amount": f"{amount:.2f}", "tech_amount": f"{amount:.2f}", "signed_on": signed_on.isoformat(),
            "field": rng.choice(fields[buyer.id]) if buyer.id in fields else "",
        }))
    report = import_contracts(rows=rows, user=official)
    if not report.stored:  # the demo's own rows: a bad one is a bug in this function
        raise RuntimeError(f"demo contracts refused: {report.bad[:3]}")


def _seed_targets(admin: User, city_official: User, city: Region, counties: list[Region]) -> None:
    """This year's targets (目标任务): the city's set by the administrator, each county's by the city bureau,
    scaled to the demo's size (the seeds' 10亿元 city-wide is a real city's figure)."""
    from .dashboard.queries import today as dashboard_today
    from .dashboard.services import targets_save

    year = dashboard_today().year
    targets_save(user=admin, region=city, year=year,
                 values={"amount": parse_wan("15000"), "tech_amount": parse_wan("12000"), "count": 150, "conversions": 30})
    for i, county in enumerate(counties):
        wan = ("2000", "1500", "1200", "1000")[i % 4]
        targets_save(user=city_official, region=county, year=year,
                     values={"amount": parse_wan(wan), "tech_amount": parse_wan(wan) * Decimal("0.8"), "count": 12})


def seed_demo_pipeline() -> int:
    """Once the demo is committed and matched: the brokers' pipelines and a pending interest.

    Each demo broker claims the best engine suggestions of its county (中 or better, each need and each result
    once, so a showcase result is not 已转化 by a weaker pairing) and works them to different stages, with notes
    and next actions (one overdue), and ent01 expresses interest in the result suggested first for one of its
    needs, so that institution has a request to answer. Written through the same services as the site.
    Returns the number of deals opened.
    """
    from .dashboard.queries import today as dashboard_today
    from .deals import services as deals
    from .deals.access import suggestion_in_region
    from .matching.engine import MEDIUM_FROM
    from .models import Suggestion

    today = dashboard_today()  # the demo deal's contract counts in the dashboard's year
    brokers = db.session.scalars(select(User).where(User.role == "broker").order_by(User.username)).all()
    suggestions = db.session.scalars(select(Suggestion).order_by(Suggestion.score.desc(), Suggestion.id)).all()
    opened = 0
    taken: set[int] = set()
    results_taken: set[int] = set()
    plans = (  # (stage to reach, note, next action in days from today, what to do next)
        ("recommended", "", None, ""),
        ("contacted", "已电话联系需求方技术负责人，对方愿意了解成果详情。", 5, "陪同企业赴高校实验室考察"),
        ("negotiating", "双方已面谈两次，正在商定合作方式与价格。", 10, "整理合同草案，发给双方确认"),
        ("contacted", "已将成果资料发给企业，等待企业内部评估。", -3, "回访企业评估结果"),
        ("signed", "双方确认合同文本，已签字盖章。", None, ""),
    )
    for broker in brokers:
        for stage, note, days, next_action in plans:
            suggestion = next((x for x in suggestions if x.demand_id not in taken and x.achievement_id not in results_taken
                               and x.score >= MEDIUM_FROM and suggestion_in_region(broker, x)
                               and x.demand.org_id != x.achievement.org_id and x.demand.status == "published"
                               and x.achievement.status == "published"), None)
            if suggestion is None:
                break
            deal = deals.deal_claim_suggestion(suggestion=suggestion, user=broker)
            taken.add(suggestion.demand_id)
            results_taken.add(suggestion.achievement_id)
            opened += 1
            if stage != "recommended":
                deals.deal_move(deal=deal, user=broker, to="contacted", version=deal.version, text="开始接洽")
            if stage in ("negotiating", "signed"):
                deals.deal_move(deal=deal, user=broker, to="negotiating", version=deal.version, text="进入洽谈")
            if note:
                deals.deal_note(deal=deal, user=broker, text=note)
            if stage == "signed":
                _sign_demo_deal(deal, broker, number=900000 + opened, today=today)
            if days is not None:
                deals.deal_plan(deal=deal, user=broker, on=today + timedelta(days=days), text=next_action)
    ent01 = db.session.scalar(select(User).where(User.username == "ent01"))
    first = next((x for x in suggestions if ent01 is not None and x.demand.org_id == ent01.org_id
                  and x.achievement.status == "published"), None)
    if first is not None:
        deals.interest_create(user=ent01, listing=first.achievement, token=new_form_token(),
                              message="我公司对该成果很感兴趣，希望进一步了解技术细节和合作方式。")
    db.session.flush()
    seed_demo_events()
    seed_demo_campaign()
    from .transfers.demo import seed_demo_transfers; seed_demo_transfers()  # 公示 and 挂牌 (issue 20)
    from .auctions.demo import seed_demo_auctions; seed_demo_auctions()  # 竞价 sessions (issue 20)
    return opened


def seed_demo_events() -> None:
    """Two events of the demo (issue 19): a 路演 three weeks ago in the first county, with its sign-ups, check-ins,
    two 意向 recorded on the spot and one accepted into a deal (its outcome page has figures); and the city's
    对接会 ten days ahead, open for sign-up, two already signed up. The past one is written as rows (the service
    refuses a start in the past); the upcoming one, its sign-ups and every interest go through the services."""
    from datetime import datetime, time

    from .deals import services as deals
    from .happenings import services as events
    from .models import Happening, HappeningListing, HappeningSession, HappeningSignup, Interest
    from .templating import CHINA_TZ

    officials = db.session.scalars(select(User).where(User.role == "official").order_by(User.username)).all()
    city_official = next((u for u in officials if u.username == "kjj_city"), None)
    county_official = next((u for u in officials if u.username != "kjj_city"), None)
    companies = db.session.scalars(select(User).where(User.role == "enterprise", User.username.like("ent0%"))
                                   .order_by(User.username)).all()
    results = db.session.scalars(select(Achievement).where(Achievement.status == "published")
                                 .order_by(Achievement.id.desc()).limit(3)).all()
    needs = db.session.scalars(select(Demand).where(Demand.status == "published").order_by(Demand.id.desc()).limit(2)).all()
    if city_official is None or county_official is None or len(companies) < 6 or len(results) < 3:
        return
    local_today = utcnow().astimezone(CHINA_TZ).date()

    def at(days: int, hour: int, minute: int = 0):
        return datetime.combine(local_today + timedelta(days=days), time(hour, minute), tzinfo=CHINA_TZ)

    # the past 路演: five companies signed up, four came; two 意向 on the spot, one accepted
    start = at(-21, 9)
    past = Happening(kind="roadshow", title=f"{county_official.region.name}高校院所科技成果路演（新材料专场）",
                     place=f"{county_official.region.name}科技局三楼路演厅", region_id=county_official.region_id,
                     organiser_id=county_official.id, description="三家高校院所现场路演成果，企业现场提问、洽谈。",
                     starts_at=start, ends_at=start + timedelta(hours=3), signup_deadline=start - timedelta(days=1),
                     capacity=30, confirmed_count=5, created_at=start - timedelta(days=14))
    db.session.add(past)
    db.session.flush()
    db.session.add_all([
        HappeningSession(happening_id=past.id, title="政策解读与活动介绍", starts_at=start, ends_at=start + timedelta(minutes=30)),
        HappeningSession(happening_id=past.id, title="成果路演（每项15分钟）", starts_at=start + timedelta(minutes=30),
                         ends_at=start + timedelta(hours=2)),
        HappeningSession(happening_id=past.id, title="一对一洽谈", starts_at=start + timedelta(hours=2),
                         ends_at=start + timedelta(hours=3))])
    db.session.add_all([HappeningListing(happening_id=past.id, kind="achievement", listing_id=a.id) for a in results])
    attendees = []
    for n, user in enumerate(companies[1:6]):  # ent02-ent06 (ent01's own 意向 waits elsewhere)
        row = HappeningSignup(happening_id=past.id, user_id=user.id, org_id=user.org_id, status="confirmed",
                              nonce=secrets.token_hex(16), queued_at=start - timedelta(days=10 - n),
                              created_at=start - timedelta(days=10 - n))
        if n < 4:
            row.checked_in_at, row.checked_in_by_id = start - timedelta(minutes=20 - 3 * n), county_official.id
        db.session.add(row)
        attendees.append((user, row))
    db.session.flush()
    spoken = []
    for (user, _), result, message in zip(attendees[:2], results[:2], (
            "现场听取路演后很感兴趣，希望到实验室考察，商谈技术许可。",
            "我公司产线改造需要该技术，希望进一步了解中试情况和合作方式。")):
        taken = db.session.scalar(select(Interest.id).where(Interest.from_org_id == user.org_id,
                                                            Interest.achievement_id == result.id))
        if taken is None:
            spoken.append(deals.interest_create(user=user, listing=result, message=message, token=new_form_token(),
                                                happening_id=past.id, recorded_by=county_official))
    if spoken:
        deals.interest_decide(interest=spoken[0], user=spoken[0].achievement.owner, decision="accept")

    # the upcoming 对接会 of the city, open for sign-up
    start = at(10, 9)
    keys = [f"demand:{d.id}" for d in needs] + [f"achievement:{a.id}" for a in results[:2]]
    upcoming = events.happening_create(
        user=city_official, kind="matchmaking", title=f"{city_official.region.name}新材料产业技术对接会",
        place=f"{city_official.region.name}科技大市场一楼对接大厅",
        description="企业发布技术需求，高校院所发布成果，现场一对一对接；会后由技术经纪人跟进。",
        starts_at=start, ends_at=start + timedelta(hours=5), signup_deadline=start - timedelta(days=2), capacity=60,
        sessions_text=f"{start:%Y-%m-%d} 09:00-10:00 企业技术需求发布\n{start:%Y-%m-%d} 10:00-11:30 高校院所成果推介\n"
                      f"{start:%Y-%m-%d} 11:30-14:00 一对一洽谈",
        listing_keys=keys, token=new_form_token())
    for user in (companies[1], companies[2]):
        events.signup(user=user, happening=upcoming)
    db.session.flush()


#: the demo's 专家库 entries with accounts (username, name, 职称, organisation, field codes): the panel of its 揭榜挂帅
DEMO_EXPERTS = (("expert01", "陈立新", "研究员", "蚌埠玻璃工业设计研究院", ("04.02", "06.01")),
                ("expert02", "周文博", "教授", "合肥工业大学", ("04.02", "04.03")),
                ("expert03", "韩静", "高级工程师", "蚌埠市硅基新材料产业技术研究院", ("04.02", "06.01")))
#: the demo campaign's 榜: (need title, 榜名, 攻关目标, 考核指标, 奖补资金 万元, 企业配套 万元, rubric)
DEMO_CAMPAIGN_TASKS = (
    ("光伏压延玻璃减反射镀膜耐候性提升", "光伏玻璃减反射镀膜十年耐候攻关",
     "减反射镀膜在湿热、盐雾环境下的耐候寿命由现在的五年左右提升到十年以上，满足双玻组件二十五年质保要求。",
     "透过率增益不低于2.3%；双85老化1000小时后透过率衰减不超过0.5%；中试线连续生产良率不低于98%。",
     "80", "40", "技术先进性 40\n可行性与进度安排 30\n团队与条件 20\n产业化前景 10"),
    ("高铝玻璃气泡多，求无砷锑澄清剂", "高铝盖板玻璃无砷锑澄清技术攻关",
     "开发不含砷、锑的复合澄清剂及配套熔制制度，解决高铝玻璃气泡多的问题，产品满足出口环保要求。",
     "成品气泡数不超过1个/千克（直径0.1mm以上）；澄清剂成本不高于现用方案的1.2倍；完成窑炉工业化验证。",
     "50", "25", "技术先进性 40\n可行性与进度安排 30\n团队与条件 30"),
)


def _seed_experts(official: User, city: Region, institutions: list[Organization],
                  fields: dict[str, Field]) -> list[tuple[str, str, str]]:
    """The demo 专家库: members of three institutions, each with an account (they score 揭榜方案), managed by the
    city. Returns their printed log-in."""
    from .models import Expert

    by_name = {org.name: org for org in institutions}
    made = []
    for username, name, title, org_name, codes in DEMO_EXPERTS:
        org = by_name.get(org_name)
        if org is None:
            continue
        user = _user(username, name, "institution", org=org)
        db.session.flush()
        expert = Expert(name=name, title=title, user_id=user.id, org_id=org.id, region_id=city.id, available=True,
                        created_by_id=official.id)
        expert.fields = [fields[code] for code in codes if code in fields]
        db.session.add(expert)
        made.append(username)
    db.session.flush()
    if not made:
        return []
    return [("评审专家", made[0], f"揭榜挂帅评审专家（{made[0]}-{made[-1][-2:]}）")]


def seed_demo_campaign() -> None:
    """The demo's 揭榜挂帅 (issue 19): the city's campaign with two open 榜 on published needs of its glass
    companies, the demo experts as their panel, the deadline a month ahead, and one 揭榜方案 already in (from a
    university; the other institutions and companies may still 揭榜). Written through the services, as the
    official's and the solver's forms do."""
    from datetime import datetime, time

    from .campaigns import services as campaigns
    from .models import Expert
    from .templating import CHINA_TZ

    official = db.session.scalar(select(User).where(User.username == "kjj_city"))
    panel = db.session.scalars(select(Expert).where(Expert.user_id.is_not(None), Expert.available.is_(True))
                               .order_by(Expert.id)).all()
    rows = [(need, row) for row in DEMO_CAMPAIGN_TASKS
            if (need := db.session.scalar(select(Demand).where(Demand.title == row[0], Demand.status == "published")))]
    if official is None or not panel or not rows:
        return
    campaign = campaigns.campaign_create(
        user=official, title=f"{official.region.name}新材料产业揭榜挂帅榜单（第一批）", token=new_form_token(),
        description="企业出题、政府立题、能者解题、市场阅卷：围绕玻璃新材料产业链的关键技术难题张榜，"
                    "高校、科研院所和企业均可揭榜；揭榜成功后按里程碑验收拨付奖补资金。")
    deadline = datetime.combine(utcnow().astimezone(CHINA_TZ).date() + timedelta(days=30), time(17, 0), tzinfo=CHINA_TZ)
    tasks = []
    for need, (_, title, goal, indicators, award_wan, co_wan, rubric) in rows:
        tasks.append(campaigns.task_create(
            user=official, campaign=campaign, demand_id=need.id, title=title, goal=goal, indicators=indicators,
            award=parse_wan(award_wan), co_funding=parse_wan(co_wan), deadline=deadline, eligible_region_id=None,
            eligible_types=["enterprise", "university", "institute"], rubric_text=rubric,
            expert_ids=[e.id for e in panel if e.org_id != need.org_id]))
    solver = db.session.scalar(select(User).join(Organization, Organization.id == User.org_id)
                               .where(Organization.name == "中国科学技术大学", User.role == "institution")
                               .order_by(User.id).limit(1))
    if solver is not None and campaigns.may_solve(solver, tasks[0]) is None:
        campaigns.proposal_save(user=solver, task=tasks[0], summary="梯度折射率双层减反射膜：磁控溅射致密底层加溶胶凝胶多孔面层",
                                plan="技术路线：磁控溅射制备致密SiO2/TiO2底层提升附着力和耐湿热性能，溶胶凝胶法制备疏水改性多孔SiO2面层"
                                     "实现减反射；在企业压延线上完成中试。\n进度：第1-4个月小试，第5-9个月中试，第10-12个月产线验证。\n"
                                     "团队：教授一名、副研究员两名、博士研究生四名，依托薄膜材料与器件实验室。")
    db.session.flush()


def _sign_demo_deal(deal, broker: User, *, number: int, today: date) -> None:
    """签约 through the contract service, as the broker's form does; the broker worked an engine suggestion
    alone, so each owner confirms the link to the contract as on the site (links.link_decide): the need becomes
    已解决, the result 已转化 (a 成果转化 on the dashboard); a first instalment is received."""
    from .contracts import links
    from .contracts import services as contracts

    price = deal.achievement.price or parse_wan("60")
    signed_on = today - timedelta(days=7 + number % 20)
    contract = contracts.contract_record_from_deal(
        deal=deal, user=broker, version=deal.version, token=new_form_token(),
        data={"registration_no": f"{signed_on.year}340300{number:06d}", "title": f"{deal.achievement.title[:60]}技术开发合同",
              "contract_type": "development", "subtype": "commissioned", "amount": price,
              "tech_amount": (price * Decimal("0.9")).quantize(Decimal("0.01")), "signed_on": signed_on,
              "field_id": deal.demand.field_id, "term_start": signed_on, "term_end": signed_on + timedelta(days=365)})
    for link in links.links_for_contract(contract):
        if link.status == "pending":
            links.link_decide(link=link, user=link.listing.owner, decision="accept")
    contracts.payment_add(contract=contract, user=broker, paid_on=signed_on, amount=(price * Decimal("0.3")).quantize(
        Decimal("0.01")), note="首期款", token=new_form_token())


def demo_agency_uscc() -> str:
    from .data.uscc_gen import make_uscc

    return make_uscc(9001, area_code="340300", authority="5", org_type="2")  # 民办非企业单位 style


def demo_pending_uscc() -> str:
    from .data.uscc_gen import make_uscc

    return make_uscc(9002)


def seed_demo_all_or_nothing() -> list[tuple[str, str, str]]:
    """The whole demo in one transaction, or nothing (a full index disk used to leave it half written).

    The demo's pipeline claims engine suggestions, and the engine reads the index: the index it reads is a new
    generation built from this very transaction (IndexReplica.staged), swapped in only after the commit. Any
    failure before the commit rolls the database back and removes that generation, so neither changes. The
    suggestions are computed here too (not left to the queue), and the suggestion refresh's cursor moves past
    every change of the transaction with them.
    """
    from flask import current_app

    from .matching.engine import Matcher
    from .matching.handlers import CURSOR
    from .matching.services import all_matchable, suggestions_purge, suggestions_refresh_for
    from .models import IndexChange, LogCursor
    from .search.indexing import replica

    app = current_app._get_current_object()
    logins = seed_demo_data()
    db.session.flush()
    with replica(app).staged(db.session) as stage:
        top = db.session.scalar(select(db.func.max(IndexChange.seq))) or 0
        matcher = Matcher(db.session, stage.backend)
        for kind, listing_id in sorted(all_matchable(db.session)):  # the order of the site's refresh job
            suggestions_refresh_for(kind, listing_id, session=db.session, matcher=matcher)
        suggestions_purge(session=db.session)
        seed_demo_pipeline()
        db.session.flush()
        stage.catch_up()  # what the pipeline changed (needs and results 已解决 / 已转化) ...
        changed = db.session.execute(select(IndexChange.kind, IndexChange.obj_id).where(IndexChange.seq > top)).all()
        matcher = Matcher(db.session, stage.backend)
        for kind, listing_id in sorted(set(changed)):  # ... and their suggestions, as the site's job would
            suggestions_refresh_for(kind, listing_id, session=db.session, matcher=matcher)
        last = db.session.scalar(select(db.func.max(IndexChange.seq))) or 0
        db.session.merge(LogCursor(name=CURSOR, seq=last, updated_at=utcnow()))
        sync = app.config.get("SEARCH_SYNC_AFTER_COMMIT", True)
        app.config["SEARCH_SYNC_AFTER_COMMIT"] = False  # the old generation need not follow: it is replaced next
        try:
            db.session.commit()
        finally:
            app.config["SEARCH_SYNC_AFTER_COMMIT"] = sync
        stage.publish()
    return logins


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the database already has users.")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Fill an empty database with a realistic demo market and print the demo log-ins (all of it, or nothing)."""
    if not force and db.session.scalar(db.select(db.func.count()).select_from(User)):
        click.echo("数据库已有数据，跳过演示数据（使用 --force 强制写入）。")
        return
    try:
        logins = seed_demo_all_or_nothing()
    except OSError as exc:  # a full or failing index disk, a busy index lock
        db.session.rollback()
        raise click.ClickException(f"演示数据未写入（搜索索引无法写入：{exc}），数据库和搜索索引都没有改变；"
                                   "释放磁盘空间后重新运行 seed-demo。") from exc
    click.echo("演示数据已写入。演示账号（密码均为 Demo@2026pass）：")
    for role, username, label in logins:
        click.echo(f"  {role:<12} {username:<16} {label}")


COMMANDS = (seed_demo,)
