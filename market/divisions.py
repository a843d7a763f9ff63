"""Where a party is: the national 行政区划 list (GB/T 2260), 国别 (ISO 3166-1), and the four flow classes.

The city's own region tree (market/models/region.py: its counties, towns and parks) scopes officials and
targets; this module places a party anywhere else. A party is

    本市        on the market's region tree (region_id set)
    省内其他市  in China, outside the territory, in the same province
    外省        in China, in another province
    境外        any other 国别 (香港, 澳门 and 台湾 included: HK, MO, TW)

relative to the market's territory: the 6-digit code MARKET_DIVISION_CODE, or else the code of the region
tree's root city (the demo's 340300 蚌埠市). The list is market/data/divisions.json (see make_divisions.py for
its source); country names come from pycountry's ISO 3166-1 data and its zh_CN translation.
"""
from __future__ import annotations

import gettext
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import select

from .extensions import db
from .models.region import Region

DATA = Path(__file__).with_name("data") / "divisions.json"
HOME_COUNTRY = "CN"
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})  # 直辖市: counties hang from the province
PLACE_CLASSES = {"local": "本市", "province": "省内其他市", "domestic": "外省", "abroad": "境外"}
FLOW_CLASSES = tuple(PLACE_CLASSES)
LOCAL_KEY = "L"  # the flow summary's key for a party on the region tree
_CODE_RE = re.compile(r"^[0-9]{6}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class PlaceError(ValueError):
    """A place that cannot be stored; the message is shown to the user (Chinese)."""


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent: str  # '' for a province

    @property
    def level(self) -> str:
        if not self.parent:
            return "province"
        return "city" if self.code.endswith("00") else "county"


@lru_cache(maxsize=1)
def _table() -> dict[str, Division]:
    rows = json.loads(DATA.read_text(encoding="utf-8"))["rows"]
    return {code: Division(code, name, parent) for code, name, parent in rows}


def division(code: str | None) -> Division | None:
    return _table().get((code or "").strip())


def children(code: str = "") -> list[Division]:
    """The provinces (code ''), or the units directly below a code, in code order."""
    return sorted((d for d in _table().values() if d.parent == code), key=lambda d: d.code)


def full_name(code: str | None) -> str:
    """'安徽省合肥市蜀山区' for 340104; '' for an unknown code."""
    names = []
    unit = division(code)
    while unit is not None:
        names.append(unit.name)
        unit = division(unit.parent)
    return "".join(reversed(names))


def city_of(code: str | None) -> str:
    """The 地级 unit holding a code (a 直辖市 for its districts; a 省直辖县级 unit is its own); '' if unknown."""
    unit = division(code)
    if unit is None:
        return ""
    if unit.level == "province":
        return unit.code if unit.code in MUNICIPALITIES else ""
    if unit.level == "county" and unit.parent in _table() and division(unit.parent).level == "city":
        return unit.parent
    if unit.parent in MUNICIPALITIES:
        return unit.parent
    return unit.code


# --- countries -------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    import pycountry

    try:
        zh = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"]).gettext
    except OSError:  # no translation shipped: English names
        def zh(text: str) -> str:
            return text
    names = {c.alpha_2: zh(c.name) for c in pycountry.countries}
    names.update({"HK": "中国香港", "MO": "中国澳门", "TW": "中国台湾"})  # 港澳台 count as 境外 in the figures
    return names


def country_name(code: str | None) -> str:
    return _countries().get((code or "").upper(), code or "")


def country_choices() -> list[tuple[str, str]]:
    """(code, '名称 (XX)') for every country, China first, then by code."""
    names = _countries()
    return [(HOME_COUNTRY, f"{names[HOME_COUNTRY]}（CN）")] + [
        (code, f"{name}（{code}）") for code, name in sorted(names.items()) if code != HOME_COUNTRY]


def clean_country(text: str | None) -> str:
    """An ISO 3166-1 alpha-2 code ('' → CN); also accepts the Chinese name. Raises PlaceError."""
    value = (text or "").strip()
    if not value:
        return HOME_COUNTRY
    code = value.upper()
    if _COUNTRY_RE.match(code) and code in _countries():
        return code
    for known, name in _countries().items():
        if value == name:
            return known
    raise PlaceError(f"国别“{value[:20]}”无法识别（填写ISO 3166两位字母代码，如 CN、US、DE）")


# --- the territory and places relative to it ---------------------------------------------------------------

def territory_code() -> str:
    """The market's own city as a 6-digit code ('' when neither configured nor found on the region tree)."""
    if has_app_context():
        configured = (current_app.config.get("MARKET_DIVISION_CODE") or "").strip()
        if configured:
            return configured
        root = db.session.scalar(select(Region.code).where(Region.parent_id.is_(None), Region.level == "city")
                                 .order_by(Region.sort, Region.id).limit(1))
        if root and division(root) is not None:
            return city_of(root) or root
    return ""


def region_division(region: Region | None) -> str | None:
    """The GB/T 2260 code of a node of the city's tree: its own code when it is one (a county), the code its
    9-digit code starts with (a town), else its nearest ancestor's (a park or zone without a national code)."""
    if region is None:
        return None
    ids = list(reversed(region.ancestor_ids)) or [region.id]
    codes = dict(db.session.execute(select(Region.id, Region.code).where(Region.id.in_(ids))).all())
    for rid in ids:
        code = codes.get(rid, "")
        for candidate in (code, code[:6]):
            if _CODE_RE.match(candidate) and division(candidate) is not None:
                return candidate
    return None


def classify(*, on_tree: bool, division_code: str | None, country: str | None, territory: str) -> str:
    """'local', 'province', 'domestic' or 'abroad' (see PLACE_CLASSES)."""
    if on_tree:
        return "local"
    if (country or HOME_COUNTRY) != HOME_COUNTRY:
        return "abroad"
    if territory and division_code and division_code[:2] == territory[:2]:
        return "province"
    return "domestic"


def flow_key_class(key: str, territory: str) -> str:
    """The class of a flow summary key (market/models/stats.py: 'L', a country code, or a code's first 4
    digits)."""
    if key == LOCAL_KEY:
        return "local"
    if _COUNTRY_RE.match(key or ""):
        return "abroad"
    if territory and key[:2] == territory[:2]:
        return "province"
    return "domestic"


def flow_key_name(key: str) -> str:
    """A readable name for a flow key: the city (合肥市), the country, or 本市."""
    if key == LOCAL_KEY:
        return "本市"
    if _COUNTRY_RE.match(key or ""):
        return country_name(key)
    code = (key + "00")[:6]
    unit = division(code) or division(key[:2] + "0000")
    return full_name(unit.code) if unit else (key or "未填写所在地")


@dataclass(frozen=True)
class Place:
    region_id: int | None
    division_code: str | None
    country: str

    @property
    def on_tree(self) -> bool:
        return self.region_id is not None


def resolve_place(*, region: Region | None, division_code: str | None, country: str | None,
                  territory: str | None = None) -> Place:
    """Check and complete a party's place. A party in the city is placed on the region tree (its code follows
    from the node); one elsewhere in China by its 6-digit 行政区划代码; one abroad by its 国别. Raises PlaceError."""
    country = clean_country(country)
    code = (division_code or "").strip()
    if country != HOME_COUNTRY:
        if region is not None:
            raise PlaceError("境外单位不能选择本市区域")
        return Place(None, None, country)
    if region is not None:
        own = region_division(region)
        if code and own and code != own and city_of(code) != city_of(own):
            raise PlaceError(f"行政区划代码{code}与所选区域（{region.name}）不一致")
        return Place(region.id, own, country)
    if not code:
        raise PlaceError("请选择本市区域，或填写本市以外单位的6位行政区划代码（境外单位填写国别）")
    if not _CODE_RE.match(code) or division(code) is None:
        raise PlaceError(f"行政区划代码“{code[:20]}”无效（须为GB/T 2260的6位代码，如合肥市蜀山区 340104）")
    territory = territory_code() if territory is None else territory
    if territory and city_of(code) == territory:
        raise PlaceError("本市单位请选择所在区县（本市区域），不填行政区划代码")
    return Place(None, code, country)


def place_label(*, region: Region | None, division_code: str | None, country: str | None) -> str:
    """What a page shows for a party's place."""
    if (country or HOME_COUNTRY) != HOME_COUNTRY:
        return f"境外：{country_name(country)}"
    if region is not None:
        return region.full_name()
    return full_name(division_code) or "未填写所在地"


# --- a place as an organisation form sets it (registration, the administrator's edit) ------------------------

OUTSIDE_REGION = -1  # the "所在区域" select's choice for a party outside the city or abroad
OUTSIDE_CHOICE = (OUTSIDE_REGION, "本市以外或境外（请填写下方所在地）")
DIVISION_HINT = "本市以外的单位填写：6位行政区划代码，可选列表中的省、市，或填写区县代码，如合肥市蜀山区 340104"


def datalist_options() -> list[tuple[str, str]]:
    """(code, full name) of every province and 地级 city: the form's <datalist>, usable without JavaScript; any
    county code of the list is accepted too."""
    out = []
    for province in children(""):
        out.append((province.code, province.name))
        out += [(c.code, full_name(c.code)) for c in children(province.code) if c.level == "city"]
    return out


def org_place(*, region: Region | None, outside: bool, division_code: str | None,
              country: str | None) -> tuple[Place | None, dict[str, str]]:
    """An organisation's place from its form: (Place, {}) or (None, {field: Chinese reason}).

    `region` is the node picked on the city's tree, `outside` whether "本市以外或境外" was picked instead. A node
    below the city gives the node's code; the city node keeps no code (the data check lists it) unless a code in
    the city is typed; outside the city the 6-digit code (or, abroad, the 国别) is required."""
    errors: dict[str, str] = {}
    try:
        country = clean_country(country)
    except PlaceError as exc:
        return None, {"country": str(exc)}
    code = (division_code or "").strip()
    if region is None and not outside:
        return None, {"region_id": "请选择所在区域（本市以外或境外的单位选择“本市以外或境外”）"}
    if country != HOME_COUNTRY:
        if region is not None:
            errors["region_id"] = "境外单位请在“所在区域”选择“本市以外或境外”"
        if code:
            errors["division_code"] = "境外单位不填行政区划代码"
        return (None, errors) if errors else (Place(None, None, country), {})
    if code and (not _CODE_RE.match(code) or division(code) is None):
        return None, {"division_code": f"行政区划代码“{code[:20]}”无效（须为GB/T 2260的6位代码，如合肥市蜀山区 340104）"}
    if region is not None:
        own = region_division(region) if region.parent_id is not None else None
        if region.parent_id is None:  # the city node: a typed code in the city places it, else it stays unplaced
            if code and city_of(code) != city_of(region_division(region) or ""):
                return None, {"division_code": f"行政区划代码{code}不在{region.name}，本市以外的单位请在“所在区域”"
                                               "选择“本市以外或境外”"}
            return Place(region.id, code or None, country), {}
        if code and own and code != own and city_of(code) != city_of(own):
            return None, {"division_code": f"行政区划代码{code}与所选区域（{region.name}）不一致"}
        return Place(region.id, own, country), {}
    if not code:
        return None, {"division_code": "本市以外的单位请填写6位行政区划代码（如合肥市蜀山区 340104），境外单位选择国别"}
    territory = territory_code()
    if territory and city_of(code) == territory:
        return None, {"division_code": "本市的单位请在“所在区域”选择所在区县，不选“本市以外或境外”"}
    return Place(None, code, country), {}


def division_code_field(label: str = "所在地行政区划代码"):
    """The form field for a 6-digit code outside the city, with the provinces and cities as a <datalist>
    (templates/_macros/division.html): usable without JavaScript; checked by org_place / resolve_place."""
    from wtforms import StringField
    from wtforms.validators import Length, Optional

    return StringField(label, validators=[Optional(), Length(max=6, message="行政区划代码为6位数字")],
                       description=DIVISION_HINT,
                       render_kw={"list": "division-options", "inputmode": "numeric", "autocomplete": "off",
                                  "maxlength": "6"})
