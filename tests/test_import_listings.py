"""`flask import achievements|demands FILE`: the rules of issue 3, for .jsonl, .csv and .xlsx."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.imports import ImportFileError, read_rows
from market.models import Achievement, Demand, ListingEvent, Organization, Suggestion, User
from market.search.indexing import replica
from tests import factories


def count(model) -> int:
    n = db.session.scalar(select(func.count()).select_from(model))
    db.session.commit()  # release SQLite's lock before the next command writes
    return n


def write_jsonl(path, rows) -> str:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return str(path)


def run(runner, kind: str, path: str, *extra: str):
    return runner.invoke(args=["import", kind, path, *extra])


GOOD_RESULTS = [
    {"external_id": "R-001", "title": "磁控溅射低方阻透明导电膜制备技术", "summary": "采用磁控溅射工艺制备低方阻透明导电膜，方阻低于6Ω/□。",
     "keywords": ["导电膜", "磁控溅射"], "organization": "皖北理工学院", "field": "04.01", "region": "340321",
     "maturity": 6, "price_wan": 80},
    {"external_id": "R-002", "title": "工业软件缺陷检测算法", "summary": "基于深度学习的产线表面缺陷检测算法与软件。",
     "keywords": "机器视觉、深度学习，缺陷检测;算法 软件", "organization": "蚌埠测试大学", "field": "软件",
     "region": "蚌埠市/五河县", "maturity": "4", "price_wan": ""},
]


def test_results_are_imported_published_indexed_and_new_organisations_reported(app, world, runner, tmp_path):
    out = run(runner, "achievements", write_jsonl(tmp_path / "r.jsonl", GOOD_RESULTS))
    assert out.exit_code == 0, out.output
    assert "新增 2 条" in out.output and "皖北理工学院" in out.output

    new_org = db.session.scalar(select(Organization).where(Organization.name == "皖北理工学院"))
    assert new_org.status == "pending" and new_org.org_type == "university"  # created unverified, as 高校
    r1 = db.session.scalar(select(Achievement).where(Achievement.external_id == "R-001"))
    assert r1.status == "published" and r1.published_at is not None
    assert r1.org_id == new_org.id and r1.field.code == "04.01" and r1.region.code == "340321"
    assert r1.maturity == 6 and r1.price == Decimal("800000.00")
    assert r1.keyword_list == ["导电膜", "磁控溅射"]
    placeholder = db.session.get(User, r1.owner_id)
    assert placeholder.org_id == new_org.id and not placeholder.active and not placeholder.check_password("!")

    r2 = db.session.scalar(select(Achievement).where(Achievement.external_id == "R-002"))
    assert r2.org_id == world.orgs.uni.id and r2.owner_id == world.users.institution.id  # an existing user owns it
    assert r2.field.code == "01.01" and r2.region.code == "340322" and r2.price is None
    assert r2.keyword_list == ["机器视觉", "深度学习", "缺陷检测", "算法", "软件"]

    events = db.session.scalars(select(ListingEvent).where(ListingEvent.kind == "achievement")).all()
    assert {(e.listing_id, e.actor_id, e.to_status) for e in events} == {(r1.id, None, "published"), (r2.id, None, "published")}
    assert set(replica().backend().versions()) == {f"achievement:{r1.id}", f"achievement:{r2.id}"}


def test_importing_an_external_id_again_updates_the_listing(app, world, runner, tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", GOOD_RESULTS)
    assert run(runner, "achievements", path).exit_code == 0
    changed = [dict(GOOD_RESULTS[0], title="磁控溅射低方阻透明导电膜（第二代）"), GOOD_RESULTS[1]]
    out = run(runner, "achievements", write_jsonl(tmp_path / "r2.jsonl", changed))
    assert out.exit_code == 0, out.output
    assert "新增 0 条，更新 1 条，未变 1 条" in out.output
    assert count(Achievement) == 2
    assert db.session.scalar(select(Achievement.title).where(Achievement.external_id == "R-001")) == "磁控溅射低方阻透明导电膜（第二代）"
    assert count(Organization) == 6  # the world's five and 皖北理工学院, once


def test_external_id_is_unique_per_kind_not_across_kinds(app, world, runner, tmp_path):
    assert run(runner, "achievements", write_jsonl(tmp_path / "r.jsonl", GOOD_RESULTS[:1])).exit_code == 0
    need = {"external_id": "R-001", "title": "寻求导电膜镀膜技术", "description": "导电膜方阻偏高，希望引进磁控溅射技术。",
            "keywords": "导电膜", "organization": "怀远甲企业有限公司", "budget_wan": "100"}
    out = run(runner, "demands", write_jsonl(tmp_path / "d.jsonl", [need]))
    assert out.exit_code == 0, out.output
    assert count(Demand) == 1 and count(Achievement) == 1


BAD_RESULTS = [
    GOOD_RESULTS[0],
    {"external_id": "R-003", "summary": "缺少标题的一行成果简介内容。", "organization": "皖北理工学院"},
    {"external_id": "R-004", "title": "成熟度有误的成果", "summary": "成熟度填成了十二级的成果简介。", "organization": "皖北理工学院",
     "maturity": 12},
    {"external_id": "R-005", "title": "领域有误的成果", "summary": "技术领域写错了的成果简介。", "organization": "皖北理工学院",
     "field": "量子玄学"},
    {"external_id": "R-001", "title": "重复编号的成果", "summary": "与第一行编号相同的成果简介。", "organization": "皖北理工学院"},
    {"external_id": "R-006", "title": "价格有误的成果", "summary": "价格写成了文字的成果简介。", "organization": "皖北理工学院",
     "price_wan": "十万"},
    "{not json",
    {"external_id": "R-007", "title": "企业不能发布成果", "summary": "一家企业名义的成果简介。", "organization": "五河乙企业有限公司"},
    {"external_id": "R-008", "title": "区域有误的成果", "summary": "区域写错了的成果简介内容。", "organization": "皖北理工学院",
     "region": "火星/奥林匹斯山"},
]


def test_a_file_with_bad_rows_stores_nothing_and_reports_every_one(app, world, runner, tmp_path):
    out = run(runner, "achievements", write_jsonl(tmp_path / "bad.jsonl", BAD_RESULTS))
    assert out.exit_code != 0
    text = out.output
    assert "第2行（R-003）：缺少标题（title）" in text
    assert "第3行（R-004）：技术成熟度应为1-9的整数" in text
    assert "第4行（R-005）：未知的技术领域“量子玄学”" in text
    assert "第5行（R-001）：external_id 与第1行重复" in text
    assert "第6行（R-006）：price_wan：" in text
    assert "第7行：不是有效的 JSON" in text
    assert "第8行（R-007）：单位“五河乙企业有限公司”是企业，不能发布科技成果" in text
    assert "第9行（R-008）：未知的区域“火星/奥林匹斯山”" in text
    assert "未导入任何数据" in text
    assert count(Achievement) == 0 and count(ListingEvent) == 0
    assert count(Organization) == 5  # 皖北理工学院 was not created


def test_skip_bad_stores_the_good_rows(app, world, runner, tmp_path):
    out = run(runner, "achievements", write_jsonl(tmp_path / "bad.jsonl", BAD_RESULTS), "--skip-bad")
    assert out.exit_code == 3, out.output
    assert "第3行（R-004）" in out.output and "跳过有误的 8 行" in out.output
    assert [a.external_id for a in db.session.scalars(select(Achievement))] == ["R-001"]


def test_demands_from_csv_with_keywords_as_text(app, world, runner, tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text(
        "external_id,title,description,keywords,organization,field,region,budget_wan,modes\n"
        "N-1,寻求导电膜镀膜技术,我公司导电膜方阻偏高，希望引进磁控溅射技术。,导电膜、镀膜，磁控溅射;玻璃 ITO,新建材料科技有限公司,新材料/金属材料,蚌埠市/怀远县/榴城镇,50.5,技术转让、license\n"
        "N-2,生产线MES系统二次开发,需要对现有MES系统做二次开发，对接设备数据采集。,MES,怀远甲企业有限公司,01.01,,,\n",
        encoding="utf-8-sig")
    out = run(runner, "demands", str(path))
    assert out.exit_code == 0, out.output
    n1 = db.session.scalar(select(Demand).where(Demand.external_id == "N-1"))
    assert n1.keyword_list == ["导电膜", "镀膜", "磁控溅射", "玻璃", "ITO"]
    assert n1.budget == Decimal("505000.00") and n1.mode_list == ["transfer", "license"]
    assert n1.region.code == "340321101" and n1.field.code == "04.01"
    assert db.session.scalar(select(Organization.org_type).where(Organization.name == "新建材料科技有限公司")) == "enterprise"
    n2 = db.session.scalar(select(Demand).where(Demand.external_id == "N-2"))
    assert n2.budget is None and n2.region_id == world.orgs.ent_a.region_id and n2.owner_id == world.users.enterprise.id


def test_demands_from_xlsx_with_line_numbers(app, world, runner, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["external_id", "title", "description", "keywords", "organization", "budget_wan"])
    ws.append(["X-1", "寻求导电膜镀膜技术", "导电膜方阻偏高，希望引进磁控溅射技术。", "导电膜，镀膜", "怀远甲企业有限公司", 80])
    ws.append([None, None, None, None, None, None])  # a blank row is skipped, the numbering goes on
    ws.append(["X-2", "短", "太短", "", "怀远甲企业有限公司", -5])
    path = tmp_path / "needs.xlsx"
    wb.save(path)
    out = run(runner, "demands", str(path))
    assert out.exit_code != 0
    assert "第4行（X-2）：标题长度应为4-120字；需求描述（description）长度应为10-5000字；budget_wan：金额不能为负数" in out.output
    assert count(Demand) == 0
    out = run(runner, "demands", str(path), "--skip-bad")
    assert out.exit_code == 3
    assert db.session.scalar(select(Demand.budget)) == Decimal("800000.00")


@pytest.mark.parametrize("name,content,message", [
    ("list.txt", b"external_id\n1\n", "仅支持 .jsonl、.csv 或 .xlsx 文件"),
    ("broken.xlsx", b"PK\x03\x04 not really a workbook", "无法读取该 Excel 文件"),
    ("empty.jsonl", b"", "文件中没有数据行"),
    ("blank.jsonl", b"\n\n  \n", "文件中没有数据行"),
    ("binary.csv", bytes(range(256)) * 4, "文件编码无法识别"),
])
def test_unreadable_files_are_refused_with_a_chinese_reason(app, world, runner, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    out = run(runner, "achievements", str(path))
    assert out.exit_code != 0
    assert message in out.output
    assert count(Achievement) == 0


def test_text_that_no_database_column_holds_is_cleaned(app, world, runner, tmp_path):
    row = dict(GOOD_RESULTS[0], title="石墨烯\u0000导电膜\u0007技术", summary="含有\ud800孤立代理项与\x00空字符的成果简介。",
               keywords=["k" * 40] * 1 + [f"关键词{i}" * 5 for i in range(20)])
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(row), encoding="utf-8")  # ensure_ascii: the lone surrogate travels as \\ud800
    out = run(runner, "achievements", str(path))
    assert out.exit_code == 0, out.output
    a = db.session.scalar(select(Achievement))
    assert a.title == "石墨烯导电膜技术" and "\x00" not in a.summary and "\ud800" not in a.summary
    assert len(a.keywords) <= 300 and len(a.keyword_list) <= 12 and len(a.keyword_list[0]) == 30


def test_imported_needs_get_suggestions(app, world, runner, tmp_path):
    film = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                                 title="磁控溅射低方阻透明导电膜制备技术", keywords="导电膜,磁控溅射")
    film_id = film.id
    db.session.commit()
    need = {"external_id": "N-9", "title": "寻求导电膜磁控溅射镀膜技术", "description": "导电膜方阻偏高，希望引进磁控溅射镀膜技术。",
            "keywords": ["导电膜", "磁控溅射"], "organization": "怀远甲企业有限公司", "field": "04.01", "budget_wan": 100}
    assert run(runner, "demands", write_jsonl(tmp_path / "n.jsonl", [need])).exit_code == 0
    assert db.session.scalar(select(Suggestion.achievement_id)) == film_id


def test_read_rows_shape(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"A": 1, "keywords": ["x", "y"]}\n\n[1, 2]\n{"b": "z"}\n', encoding="utf-8")
    assert list(read_rows(path)) == [(1, {"a": 1, "keywords": ["x", "y"]}), (3, {"_error": "每行应为一个 JSON 对象"}),
                                     (4, {"b": "z"})]
    with pytest.raises(ImportFileError):
        read_rows(tmp_path / "missing.csv")
