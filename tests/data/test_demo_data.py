"""Consistency of the reference and demo data in market.data (no app, no database)."""
from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from market.data.demo import (
    ACHIEVEMENT_MODES,
    BUILTIN_ACHIEVEMENTS,
    COMPANIES,
    DEMAND_MODES,
    DEMANDS,
    DISCIPLINE_TO_FIELD,
    INSTITUTIONS,
    IP_TYPES,
    MATURITY_LEVELS,
    csl_achievement,
    patent_number,
)
from market.data.fields import FIELDS
from market.data.regions import DEMO_CITY
from market.data.uscc_gen import make_uscc

CSL_DEV = Path("/work/shared/data/csl-dev.jsonl")

# --- an independent GB 32100-2015 / GB 11714 validator -------------------------------------------------------
_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _uscc_ok(code: str) -> bool:
    if len(code) != 18 or any(c not in _CHARSET for c in code):
        return False
    total = sum(_CHARSET.index(c) * w for c, w in zip(code[:17], _WEIGHTS))
    check = 31 - total % 31
    if _CHARSET[0 if check == 31 else check] != code[17]:
        return False
    org = code[8:17]
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(org[:8], _ORG_WEIGHTS))
    check = 11 - total % 11
    return org[8] == {10: "X", 11: "0"}.get(check, str(check))


def test_validator_itself():
    assert _uscc_ok("91350100M000100Y43")  # the worked example of GB 32100
    assert not _uscc_ok("91350100M000100Y44")
    assert not _uscc_ok("91350100M000100Y4")


def test_make_uscc_valid_and_deterministic():
    for seed in range(300):
        code = make_uscc(seed, "340321")
        assert _uscc_ok(code), code
        assert code.startswith("91340321")
        assert make_uscc(seed, "340321") == code
        inst = make_uscc(seed, "340000", authority="1", org_type="2")
        assert _uscc_ok(inst) and inst.startswith("12340000"), inst


# --- fields ---------------------------------------------------------------------------------------------------
SUBFIELDS = {code for _, _, subs in FIELDS for code, _ in subs}


def test_fields_shape():
    assert [c for c, _, _ in FIELDS] == [f"{i:02d}" for i in range(1, 9)]
    assert [n for _, n, _ in FIELDS] == ["电子信息", "生物与新医药", "航空航天", "新材料", "高技术服务",
                                       "新能源与节能", "资源与环境", "先进制造与自动化"]
    for code, _, subs in FIELDS:
        assert subs
        assert [c for c, _ in subs] == [f"{code}.{i:02d}" for i in range(1, len(subs) + 1)]
        assert len({n for _, n in subs}) == len(subs)
    assert dict(FIELDS[0][2])["01.01"] == "软件"
    assert dict(FIELDS[0][2])["01.08"] == "智能交通和轨道交通技术"


# --- regions --------------------------------------------------------------------------------------------------
REGION_CODES = {r["code"] for r in DEMO_CITY}


def test_regions_tree():
    codes = [r["code"] for r in DEMO_CITY]
    assert len(codes) == len(set(codes))
    seen: dict[str, str] = {}
    for r in DEMO_CITY:
        assert set(r) == {"code", "name", "level", "parent_code"}
        if r["level"] == "city":
            assert r["parent_code"] is None and len(r["code"]) == 6
        else:
            assert r["parent_code"] in seen, f"{r['code']} before its parent"
            parent_level = seen[r["parent_code"]]
            assert (parent_level, r["level"]) in {("city", "county"), ("county", "town")}
            prefix = r["parent_code"][:4] if r["level"] == "county" else r["parent_code"]
            assert r["code"].startswith(prefix)
            assert len(r["code"]) == (6 if r["level"] == "county" else 9)
        seen[r["code"]] = r["level"]
    levels = Counter(r["level"] for r in DEMO_CITY)
    assert levels["city"] == 1 and levels["county"] == 9  # “1+9”
    towns = Counter(r["parent_code"] for r in DEMO_CITY if r["level"] == "town")
    assert all(2 <= n <= 4 for n in towns.values()) and len(towns) == 9
    names = {r["code"]: r["name"] for r in DEMO_CITY}
    assert names["340300"] == "蚌埠市" and names["340321"] == "怀远县" and names["340311"] == "淮上区"


# --- companies ------------------------------------------------------------------------------------------------
def test_companies():
    assert 25 <= len(COMPANIES) <= 40
    assert len({c["name"] for c in COMPANIES}) == len(COMPANIES)
    assert len({c["uscc"] for c in COMPANIES}) == len(COMPANIES)
    parent = {r["code"]: r["parent_code"] for r in DEMO_CITY}
    level = {r["code"]: r["level"] for r in DEMO_CITY}
    for c in COMPANIES:
        assert _uscc_ok(c["uscc"]), c
        assert c["uscc"][:2] == "91"
        assert c["region_code"] in REGION_CODES and level[c["region_code"]] in ("county", "town")
        county = c["region_code"] if level[c["region_code"]] == "county" else parent[c["region_code"]]
        assert c["uscc"][2:8] in (county, "340300")
        assert re.fullmatch(r"0552-\d{7}|1[3-9]\d{9}", c["contact_phone"]), c["contact_phone"]
        assert c["name"].endswith("有限公司") and c["industry"] and c["contact_name"] and c["address"]


# --- demands --------------------------------------------------------------------------------------------------
def test_demands():
    assert 50 <= len(DEMANDS) <= 80
    assert len({d["title"] for d in DEMANDS}) == len(DEMANDS)
    used = set()
    styles = Counter(d["style"] for d in DEMANDS)
    for d in DEMANDS:
        assert 0 <= d["company"] < len(COMPANIES)
        used.add(d["company"])
        assert d["field_code"] in SUBFIELDS, d["field_code"]
        assert 3 <= len(d["keywords"]) <= 6 and len(set(d["keywords"])) == len(d["keywords"])
        assert d["modes"] and set(d["modes"]) <= set(DEMAND_MODES) and len(set(d["modes"])) == len(d["modes"])
        assert 30 <= d["deadline_days"] <= 365
        assert isinstance(d["contact_public"], bool)
        assert d["budget_wan"] is None or Decimal(d["budget_wan"]) > 0
        assert 4 <= len(d["title"]) <= 120 and 10 <= len(d["description"]) <= 5000  # the need form's limits
        assert d["indicators"] or d["style"] in ("short", "plain", "colloquial")  # only detailed needs must have them
    assert used == set(range(len(COMPANIES)))  # every company has at least one need
    # written as companies write them: detailed with 技术指标, short, plain business language, colloquial terms
    assert set(styles) == {"detailed", "short", "plain", "colloquial"} and min(styles.values()) >= 5, styles
    texts = " ".join(d["title"] + d["description"] for d in DEMANDS)
    assert all(term in texts for term in ("PLC", "MES", "AGV", "污水处理成本太高"))
    titles = {d["title"] for d in DEMANDS}
    assert "大尺寸ITO导电膜玻璃方阻均匀性提升" in titles and any("AR+AF" in t for t in titles)  # issue 17's two
    assert any(d["budget_wan"] is None for d in DEMANDS)
    assert any("talent" in d["modes"] for d in DEMANDS)


# --- institutions ---------------------------------------------------------------------------------------------
def test_institutions():
    assert 8 <= len(INSTITUTIONS) <= 20
    assert len({i["name"] for i in INSTITUTIONS}) == len(INSTITUTIONS)
    usccs = [i["uscc"] for i in INSTITUTIONS] + [c["uscc"] for c in COMPANIES]
    assert len(set(usccs)) == len(usccs)
    for inst in INSTITUTIONS:
        assert inst["type"] in ("university", "institute")
        assert _uscc_ok(inst["uscc"]) and inst["uscc"][:2] == "12", inst
        assert inst["region_code"] in REGION_CODES
        assert inst["disciplines"] and set(inst["disciplines"]) <= set(DISCIPLINE_TO_FIELD)
    assert {"university", "institute"} == {i["type"] for i in INSTITUTIONS}
    # results listed all over the city: institutions in most of its counties (the rest sit in Hefei and elsewhere)
    level = {r["code"]: r["level"] for r in DEMO_CITY}
    counties = {i["region_code"] for i in INSTITUTIONS if level.get(i["region_code"]) == "county"}
    assert len(counties) >= 7, counties


# --- achievements ---------------------------------------------------------------------------------------------
def _check_achievement(a: dict) -> None:
    assert a["title"] and a["summary"]
    assert a["field_code"] in SUBFIELDS
    assert a["maturity"] in dict(MATURITY_LEVELS)
    assert a["ip_type"] in IP_TYPES
    assert isinstance(a["ip_numbers"], list)
    if a["ip_type"] in ("invention", "utility", "design"):
        kinds = set()
        for number in a["ip_numbers"]:
            m = re.fullmatch(r"ZL(\d{4})([123])(\d{7})\.([\dX])", number)
            assert m, number
            assert patent_number(int(m[1]), int(m[2]), int(m[3])) == number
            kinds.add(m[2])
        # the principal IP type is among the numbers (a result may add e.g. a utility model to an invention)
        assert {"invention": "1", "utility": "2", "design": "3"}[a["ip_type"]] in kinds, a["ip_numbers"]
    if a["ip_type"] == "know_how":
        assert a["ip_numbers"] == []
    assert a["price_wan"] is None or Decimal(a["price_wan"]) > 0
    assert a["modes"] and set(a["modes"]) <= set(ACHIEVEMENT_MODES)
    assert 0 <= a["institution"] < len(INSTITUTIONS)
    assert a["team_lead"] and isinstance(a["team_members"], list)
    assert a["team_lead"] not in a["team_members"]


def test_builtin_achievements():
    assert 35 <= len(BUILTIN_ACHIEVEMENTS) <= 50
    assert len({a["title"] for a in BUILTIN_ACHIEVEMENTS}) == len(BUILTIN_ACHIEVEMENTS)
    for a in BUILTIN_ACHIEVEMENTS:
        _check_achievement(a)
        assert a["discipline"] in DISCIPLINE_TO_FIELD
        assert 3 <= len(a["keywords"]) <= 6
        assert 4 <= len(a["title"]) <= 120 and len(a["summary"]) <= 5000  # the result form's limits
        # what a 科技局's list gives: where it applies and its figures, after the summary
        assert "\n应用领域：" in a["summary"] and re.search(r"\n技术指标：.*\d", a["summary"]), a["title"]
        assert not {"研究", "分析", "关联", "激活"} & set(a["keywords"]), a["keywords"]  # chips that say something
    keys = {frozenset(a) for a in BUILTIN_ACHIEVEMENTS}
    assert len(keys) == 1
    # spread over the fields: every top-level field but 航空航天 has results
    assert {a["field_code"][:2] for a in BUILTIN_ACHIEVEMENTS} >= {"01", "02", "04", "05", "06", "07", "08"}
    assert sum(a["ip_type"] == "invention" for a in BUILTIN_ACHIEVEMENTS) >= 20
    assert sum(a["price_wan"] is not None for a in BUILTIN_ACHIEVEMENTS) >= 30


def test_builtin_achievements_match_some_demands():
    """The demo should show matching: many needs share a subfield and a keyword with a built-in result."""
    matched = 0
    for d in DEMANDS:
        if any(a["field_code"] == d["field_code"] and set(a["keywords"]) & set(d["keywords"])
               for a in BUILTIN_ACHIEVEMENTS):
            matched += 1
    assert matched >= 15


def test_maturity_levels():
    assert [n for n, _ in MATURITY_LEVELS] == list(range(1, 10))
    assert all(name for _, name in MATURITY_LEVELS)


# --- CSL ------------------------------------------------------------------------------------------------------
def test_discipline_map_targets_exist():
    assert set(DISCIPLINE_TO_FIELD.values()) <= SUBFIELDS


@pytest.mark.skipif(not CSL_DEV.exists(), reason="CSL dev file not present")
def test_every_csl_discipline_mapped_and_importable():
    rows = [json.loads(line) for line in CSL_DEV.open(encoding="utf-8") if line.strip()]
    assert {r["discipline"] for r in rows} <= set(DISCIPLINE_TO_FIELD)
    builtin_keys = set(BUILTIN_ACHIEVEMENTS[0])
    for r in rows:
        a = csl_achievement(r)
        _check_achievement(a)
        assert set(a) == builtin_keys
        assert a["source"] == "csl" and a["source_id"] == r["id"]
        assert a["field_code"] == DISCIPLINE_TO_FIELD[r["discipline"]]
        assert csl_achievement(dict(r)) == a  # deterministic


def test_csl_achievement_minimal_row():
    a = csl_achievement({"id": "x-1", "title": "一种测试方法", "abstract": "摘要。", "keywords": ["测试"],
                         "discipline": "未知学科", "category": "工学"})
    _check_achievement(a)
    assert a["field_code"] in SUBFIELDS
