"""Demo data for 科技大市场 in 蚌埠市: companies, their technical needs (技术需求), universities and institutes,
the results (科技成果) they list, and the bridge that turns a CSL paper row into a result.

The content is in demo_market.json beside this file (edit it there); this module reads it once and derives
what is computed (registration numbers, row indexes). The demo's results are written as technologies a 科技局
would list (应用领域, 技术指标, 知识产权, 合作方式) and its needs as companies write them (detailed, short, plain
business language, colloquial terms); the CSL papers are extra volume, published earlier than these.

Everything here is invented for demonstration: company names, people and phone numbers are fictitious; the
universities are real and so are most institutes (the county institutes are invented), but the results
attributed to them are illustrative.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .regions import CITY_CODE, FUNCTIONAL_ZONES, county_of
from .uscc_gen import make_uscc

# ---------------------------------------------------------------------------------------------------------------
# 技术成熟度 (技术就绪水平), GB/T 22900 — nine levels, used for 成果 maturity.
# ---------------------------------------------------------------------------------------------------------------
MATURITY_LEVELS: list[tuple[int, str]] = [
    (1, "发现基本原理或看到基本原理的报道"),
    (2, "形成技术概念或开发方案"),
    (3, "关键功能分析和实验结论成立"),
    (4, "研究室环境中关键部件仿真验证"),
    (5, "相关环境中关键部件仿真验证"),
    (6, "相关环境中系统样机演示"),
    (7, "在实际环境中的系统样机试验结论成立"),
    (8, "实际系统完成并通过实验验证"),
    (9, "实际系统通过任务运行的成功考验"),
]

#: Cooperation modes a company may ask for in a 技术需求.
DEMAND_MODES: dict[str, str] = {
    "transfer": "技术转让",
    "license": "技术许可",
    "development": "技术开发/合作研发",
    "consulting": "技术咨询",
    "service": "技术服务",
    "talent": "人才引进",
}

#: Ways a 成果 can be transacted.
ACHIEVEMENT_MODES: dict[str, str] = {
    "transfer": "技术转让",
    "license": "技术许可",
    "equity": "作价入股",
    "codevelop": "合作开发",
}

IP_TYPES: dict[str, str] = {
    "invention": "发明专利",
    "utility": "实用新型",
    "design": "外观设计",
    "software": "软件著作权",
    "ic_layout": "集成电路布图设计",
    "plant": "植物新品种",
    "know_how": "技术秘密",
}


# ---------------------------------------------------------------------------------------------------------------
# Companies, institutions, results and needs: read from demo_market.json
# ---------------------------------------------------------------------------------------------------------------
DATA_FILE = Path(__file__).with_name("demo_market.json")


def _uscc_area(region_code: str) -> str:
    county = county_of(region_code)
    # Companies in 高新区/经开区 register with the city's 市场监管局, hence the city's area code.
    return CITY_CODE if county in FUNCTIONAL_ZONES else county


def _load() -> dict:
    with DATA_FILE.open(encoding="utf-8") as fh:
        return json.load(fh)


_DATA = _load()

COMPANIES: list[dict] = [
    {**row, "uscc": make_uscc(3400 + i, _uscc_area(row["region_code"]))} for i, row in enumerate(_DATA["companies"])
]

#: Universities and institutes; `papers`: CSL papers of its disciplines may be attributed to it.
INSTITUTIONS: list[dict] = [
    {**{k: v for k, v in row.items() if k != "uscc_area"},
     "uscc": make_uscc(1200 + i, row["uscc_area"], authority="1", org_type="2")}
    for i, row in enumerate(_DATA["institutions"])
]

_COMPANY_INDEX = {c["name"]: i for i, c in enumerate(COMPANIES)}
_INSTITUTION_INDEX = {inst["name"]: i for i, inst in enumerate(INSTITUTIONS)}

#: Needs, in the order a visitor sees them (the first is the newest). `company`: index in COMPANIES;
#: `style`: how it is written (detailed, short, plain, colloquial).
DEMANDS: list[dict] = [{**row, "company": _COMPANY_INDEX[row["company"]]} for row in _DATA["demands"]]


def _achievement(i: int, row: dict) -> dict:
    """A result as the seed and the CSL bridge shape it: 应用领域 and 技术指标 become lines after the summary."""
    summary = row["summary"]
    if row.get("applications"):
        summary += "\n应用领域：" + row["applications"]
    if row.get("indicators"):
        summary += "\n技术指标：" + row["indicators"]
    keys = ("title", "keywords", "field_code", "discipline", "maturity", "ip_type", "ip_numbers", "price_wan", "modes",
            "team_lead", "team_members")
    return {**{k: row[k] for k in keys}, "summary": summary, "institution": _INSTITUTION_INDEX[row["institution"]],
            "source": "builtin", "source_id": f"builtin-{i:02d}"}


#: Results, in the order a visitor sees them (the first is the newest).
BUILTIN_ACHIEVEMENTS: list[dict] = [_achievement(i, row) for i, row in enumerate(_DATA["achievements"])]
del _DATA


# ---------------------------------------------------------------------------------------------------------------
# 科技成果
# ---------------------------------------------------------------------------------------------------------------
def patent_number(year: int, kind: int, serial: int) -> str:
    """A Chinese patent number "ZL" + 12-digit application number + "." + check digit.

    kind: 1 invention, 2 utility model, 3 design. The check digit follows the CNIPA rule (weights 2..9,2..5, mod 11).
    """
    digits = f"{year:04d}{kind:01d}{serial:07d}"
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = sum(int(d) * w for d, w in zip(digits, weights)) % 11
    return f"ZL{digits}.{'X' if check == 10 else check}"




# ---------------------------------------------------------------------------------------------------------------
# CSL (Chinese Scientific Literature) papers as 成果
# ---------------------------------------------------------------------------------------------------------------
#: Every CSL discipline seen in csl-dev.jsonl -> the best-fitting 高新技术领域 subfield.
#: Humanities and social sciences land on the 高技术服务 subfields that come closest.
DISCIPLINE_TO_FIELD: dict[str, str] = {
    # 工学
    "材料科学与工程": "04.02",
    "化学/化学工程与技术": "04.05",
    "冶金工程": "04.01",
    "纺织科学与工程": "04.03",
    "计算机科学与技术": "01.01",
    "电子科学与技术": "01.02",
    "信息与通信工程": "01.04",
    "光学工程": "01.06",
    "交通运输工程": "01.08",
    "控制科学与工程": "08.01",
    "机械工程": "08.04",
    "力学": "08.04",
    "农业工程": "08.05",
    "电气工程": "08.06",
    "船舶与海洋工程": "08.08",
    "动力工程及工程热物理": "06.04",
    "核科学与技术": "06.02",
    "航空宇航科学与技术": "03.01",
    "兵器科学与技术": "03.01",
    "环境科学与工程": "07.01",
    "水利工程": "07.01",
    "矿业工程": "07.08",
    "石油与天然气工程": "07.08",
    "地质学/地质资源与地质工程": "07.08",
    "测绘科学与技术": "05.03",
    "土木工程": "05.01",
    "建筑学": "05.01",
    # 理学
    "数学": "01.01",
    "物理学": "01.06",
    "生物学/生物科学与工程": "02.01",
    "大气科学": "07.02",
    "地理学": "07.06",
    "海洋科学": "07.06",
    "地球物理学": "07.08",
    "天文学": "03.02",
    "心理学": "05.07",
    # 农学
    "作物学": "02.07",
    "园艺学": "02.07",
    "植物保护": "02.07",
    "畜牧学/兽医学": "02.07",
    "水产": "02.07",
    "林学/林业工程": "02.07",
    "农业资源利用": "02.07",
    "食品科学与工程": "02.06",
    # 医学
    "基础医学/临床医学": "02.01",
    "公共卫生与预防医学": "02.01",
    "中医学/中药学": "02.02",
    "药学": "02.03",
    "口腔医学": "02.05",
    # 管理学、经济学
    "工商管理": "05.04",
    "农林经济管理": "05.04",
    "应用经济学": "05.04",
    "理论经济学": "05.04",
    "公共管理": "05.07",
    "图书馆、情报与档案管理": "05.03",
    # 法学、教育学、文史哲、艺术、军事
    "法学": "05.05",
    "政治学": "05.07",
    "社会学": "05.07",
    "民族学": "05.08",
    "教育学": "05.07",
    "体育学": "05.07",
    "军事学": "05.07",
    "新闻传播学": "05.08",
    "中国语言文学": "05.08",
    "哲学": "05.08",
    "历史学": "05.08",
    "艺术学": "05.08",
}

#: CSL categories whose papers read as technology results; the rest can be imported but are weaker as 成果.
CSL_TECH_CATEGORIES = frozenset({"工学", "理学", "农学", "医学"})

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰建国文辉志宏红云峰晨鹏浩宇欣怡雪松海燕立新晓东"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _name(h: bytes, at: int) -> str:
    surname = _SURNAMES[h[at] % len(_SURNAMES)]
    given = _GIVEN[h[at + 1] % len(_GIVEN)]
    if h[at + 2] % 3:  # two-character given names are the more common
        given += _GIVEN[h[at + 2] % len(_GIVEN)]
    return surname + given


def _institutions_for(discipline: str, field_code: str) -> list[int]:
    """Institutions strong in the discipline; failing that, in a discipline of the same subfield, then of the
    same field; failing that, the two comprehensive universities."""
    papers = [i for i, inst in enumerate(INSTITUTIONS) if inst["papers"]]
    exact = [i for i in papers if discipline in INSTITUTIONS[i]["disciplines"]]
    if exact:
        return exact
    for width in (5, 2):  # "08.04" then "08"
        near = [i for i in papers
                if any(DISCIPLINE_TO_FIELD.get(d, "")[:width] == field_code[:width] for d in INSTITUTIONS[i]["disciplines"])]
        if near:
            return near
    return [i for i, inst in enumerate(INSTITUTIONS) if inst["name"] in ("中国科学技术大学", "合肥工业大学")]


def csl_achievement(row: dict) -> dict:
    """Turn a CSL row {id, title, abstract, keywords, discipline, category} into a 成果 dict shaped like
    BUILTIN_ACHIEVEMENTS. Maturity, IP, price, modes, institution and team are pseudo-random but deterministic
    (derived from a SHA-256 of the row id), so re-imports give the same result."""
    rid = str(row["id"])
    h = _digest("csl:" + rid)
    discipline = row.get("discipline") or ""
    category = row.get("category") or ""
    field_code = DISCIPLINE_TO_FIELD.get(discipline, "05.01")

    # Papers are mostly early-stage: engineering/agri/medicine 2..6, science 1..4, the rest 1..3.
    if category in ("工学", "农学", "医学"):
        maturity = 2 + h[0] % 5
    elif category == "理学":
        maturity = 1 + h[0] % 4
    else:
        maturity = 1 + h[0] % 3

    if category in CSL_TECH_CATEGORIES:
        if discipline in ("计算机科学与技术", "信息与通信工程", "数学", "测绘科学与技术"):
            pool = ["software", "software", "invention", "invention", "know_how"]
        elif category == "农学" and discipline in ("作物学", "园艺学", "林学/林业工程"):
            pool = ["plant", "invention", "invention", "know_how"]
        elif discipline in ("电子科学与技术",):
            pool = ["invention", "invention", "ic_layout", "utility", "know_how"]
        else:
            pool = ["invention", "invention", "invention", "utility", "know_how"]
    else:
        pool = ["software", "know_how", "know_how"]
    ip_type = pool[h[1] % len(pool)]

    year = 2018 + h[2] % 6
    serial = int.from_bytes(h[3:6], "big") % 1_700_000
    if ip_type == "invention":
        ip_numbers = [patent_number(year, 1, serial)]
    elif ip_type == "utility":
        ip_numbers = [patent_number(year, 2, 2_000_000 + serial)]
    elif ip_type == "software":
        ip_numbers = [f"{year}SR{serial:07d}"]
    elif ip_type == "ic_layout":
        ip_numbers = [f"BS.{year % 100:02d}5{serial % 1_000_000:06d}"]
    elif ip_type == "plant":
        ip_numbers = [f"CNA{year}{serial % 10000:04d}.{h[6] % 10}"]
    else:
        ip_numbers = []

    if h[7] % 5 < 2:
        price_wan = None  # 面议
    else:
        steps = ["5", "10", "15", "20", "30", "50", "80", "100", "150", "200"]
        price_wan = steps[min(len(steps) - 1, maturity - 1 + h[8] % 3)]

    mode_sets = [["transfer"], ["license"], ["transfer", "license"], ["codevelop"],
                 ["license", "codevelop"], ["transfer", "codevelop"], ["equity", "codevelop"]]
    modes = list(mode_sets[h[9] % len(mode_sets)])

    candidates = _institutions_for(discipline, field_code)
    institution = candidates[h[10] % len(candidates)]

    team_lead = _name(h, 11)
    team_members = []
    for k in range(1 + h[14] % 3):
        member = _name(h, 15 + 3 * k)
        if member != team_lead and member not in team_members:
            team_members.append(member)

    return {
        "title": row["title"],
        "summary": row.get("abstract") or "",
        "keywords": list(row.get("keywords") or []),
        "field_code": field_code,
        "discipline": discipline,
        "maturity": maturity,
        "ip_type": ip_type,
        "ip_numbers": ip_numbers,
        "price_wan": price_wan,
        "modes": modes,
        "institution": institution,
        "team_lead": team_lead,
        "team_members": team_members,
        "source": "csl",
        "source_id": rid,
    }
