"""The demo city: 蚌埠市 and its “1+9” sub-markets (four districts, three counties, 高新区 and 经开区).

County-level codes of the districts and counties are the real GB/T 2260 codes. The two functional zones
have no GB/T 2260 code, so they get 340371/340372 (the 7x range used locally for 开发区). Towns and
streets (镇/乡/街道) use real names with 9-digit codes in the 行政区划代码 style: county code + 3 digits,
街道 0xx, 镇 1xx, 乡 2xx, and park units (产业园) 4xx.
"""
from __future__ import annotations

CITY_CODE = "340300"
CITY_NAME = "蚌埠市"

#: County-level units that are functional zones (开发区); companies there register with the city's area code.
FUNCTIONAL_ZONES = frozenset({"340371", "340372"})

_TREE: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("340302", "龙子湖区", [
        ("340302001", "东风街道"),
        ("340302002", "解放街道"),
        ("340302003", "曹山街道"),
        ("340302101", "长淮卫镇"),
    ]),
    ("340303", "蚌山区", [
        ("340303001", "天桥街道"),
        ("340303002", "青年街道"),
        ("340303003", "黄庄街道"),
        ("340303201", "燕山乡"),
    ]),
    ("340304", "禹会区", [
        ("340304001", "大庆街道"),
        ("340304002", "张公山街道"),
        ("340304003", "朝阳街道"),
        ("340304101", "马城镇"),
    ]),
    ("340311", "淮上区", [
        ("340311101", "小蚌埠镇"),
        ("340311102", "曹老集镇"),
        ("340311103", "沫河口镇"),
        ("340311201", "梅桥乡"),
    ]),
    ("340321", "怀远县", [
        ("340321101", "城关镇"),
        ("340321102", "榴城镇"),
        ("340321103", "龙亢镇"),
        ("340321104", "河溜镇"),
    ]),
    ("340322", "五河县", [
        ("340322101", "城关镇"),
        ("340322102", "新集镇"),
        ("340322103", "小溪镇"),
        ("340322104", "头铺镇"),
    ]),
    ("340323", "固镇县", [
        ("340323101", "城关镇"),
        ("340323102", "王庄镇"),
        ("340323103", "新马桥镇"),
        ("340323104", "任桥镇"),
    ]),
    ("340371", "蚌埠高新技术产业开发区", [
        ("340371101", "秦集镇"),
        ("340371401", "中国（蚌埠）传感谷"),
        ("340371402", "硅基新材料产业园"),
    ]),
    ("340372", "蚌埠经济开发区", [
        ("340372401", "新能源产业园"),
        ("340372402", "汽车零部件产业园"),
        ("340372403", "中小企业创业园"),
    ]),
]


def _build() -> list[dict]:
    rows = [{"code": CITY_CODE, "name": CITY_NAME, "level": "city", "parent_code": None}]
    for county_code, county_name, towns in _TREE:
        rows.append({"code": county_code, "name": county_name, "level": "county", "parent_code": CITY_CODE})
        for town_code, town_name in towns:
            rows.append({"code": town_code, "name": town_name, "level": "town", "parent_code": county_code})
    return rows


#: Parent-before-child list of {"code", "name", "level": "city"|"county"|"town", "parent_code"}.
DEMO_CITY: list[dict] = _build()

REGION_BY_CODE: dict[str, dict] = {r["code"]: r for r in DEMO_CITY}


def county_of(code: str) -> str:
    """The county-level code for a county or town code ("340321101" -> "340321"); the city code maps to itself."""
    row = REGION_BY_CODE[code]
    if row["level"] == "town":
        return row["parent_code"]
    return row["code"]


def region_path(code: str) -> str:
    """"340321101" -> "蚌埠市 怀远县 城关镇"."""
    names = []
    row = REGION_BY_CODE.get(code)
    while row is not None:
        names.append(row["name"])
        row = REGION_BY_CODE.get(row["parent_code"]) if row["parent_code"] else None
    return " ".join(reversed(names))
