"""`flask import regions FILE`: CSV and JSONL, all-or-nothing by default, --skip-bad on request."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from market.admin.services import regions_import
from market.extensions import db
from market.models import Region

GOOD = [
    {"code": "340300", "name": "蚌埠市", "parent_code": "", "level": "city"},
    {"code": "340321", "name": "怀远县", "parent_code": "340300", "level": "county"},
    {"code": "340321101", "name": "榴城镇", "parent_code": "340321", "level": "town"},
    {"code": "340322", "name": "五河县", "parent_code": "340300", "level": "county"},
    {"code": "340322100001", "name": "城关社区", "parent_code": "340322", "level": "town"},
]


def write_csv(path, rows, encoding="utf-8"):
    lines = ["code,name,parent_code,level"] + [f"{r['code']},{r['name']},{r['parent_code']},{r['level']}" for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def run(runner, *args):
    db.session.commit()  # the command runs in its own session: hold no lock
    result = runner.invoke(args=["import", "regions", *map(str, args)])
    db.session.expire_all()
    return result


def codes() -> set[str]:
    return set(db.session.scalars(select(Region.code)))


def by_code(code: str) -> Region:
    return db.session.scalar(select(Region).where(Region.code == code))


def assert_tree_consistent():
    regions = {r.id: r for r in db.session.scalars(select(Region))}
    for r in regions.values():
        parent = regions.get(r.parent_id)
        assert r.path == (parent.path if parent else "/") + f"{r.id}/", r.code


def test_good_csv(app, runner, tmp_path):
    result = run(runner, write_csv(tmp_path / "regions.csv", GOOD))
    assert result.exit_code == 0, result.output
    assert "新增 5 个" in result.output
    assert codes() == {r["code"] for r in GOOD}
    town = by_code("340321101")
    assert town.parent.code == "340321" and town.level == "town"
    assert by_code("340300").parent_id is None
    assert_tree_consistent()


def test_good_jsonl_with_numeric_codes_and_chinese_levels(app, runner, tmp_path):
    rows = [dict(r) for r in GOOD]
    rows[0]["code"] = 340300
    rows[0]["parent_code"] = None
    rows[1]["level"] = "县区"
    rows[2]["level"] = "镇街道"
    result = run(runner, write_jsonl(tmp_path / "regions.jsonl", rows))
    assert result.exit_code == 0, result.output
    assert codes() == {r["code"] for r in GOOD}
    assert by_code("340321").level == "county" and by_code("340321101").level == "town"
    assert_tree_consistent()


def test_a_bad_row_stores_nothing_and_lists_every_bad_row(app, runner, tmp_path):
    rows = GOOD + [
        {"code": "34032", "name": "短码县", "parent_code": "340300", "level": "county"},  # line 7
        {"code": "340323101", "name": "孤儿镇", "parent_code": "340323", "level": "town"},  # line 8: unknown parent
        {"code": "340321102", "name": "挂错镇", "parent_code": "340300", "level": "town"},  # line 9: wrong parent level
    ]
    result = run(runner, write_csv(tmp_path / "bad.csv", rows))
    assert result.exit_code != 0
    out = result.output
    assert "第7行（34032）：县区级行政区划代码应为6位数字" in out
    assert "第8行（340323101）：上级区划代码 340323 不存在" in out
    assert "第9行（340321102）：镇街道级区划的上级应为县区级区划" in out
    assert "未导入任何数据" in out
    assert db.session.scalar(select(func.count()).select_from(Region)) == 0


def test_skip_bad_stores_exactly_the_good_rows(app, runner, tmp_path):
    rows = [
        GOOD[0],
        {"code": "3403XX", "name": "坏县", "parent_code": "340300", "level": "county"},  # line 2: bad
        {"code": "3403XX101", "name": "坏县下的镇", "parent_code": "3403XX", "level": "town"},  # line 3: parent bad
        GOOD[1],
        {"code": "340321", "name": "怀远县重复", "parent_code": "340300", "level": "county"},  # line 5: duplicate
        GOOD[2],
        {"code": "340399", "name": "", "parent_code": "340300", "level": "province"},  # line 7
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    result = run(runner, path)
    assert result.exit_code != 0 and codes() == set()

    result = run(runner, path, "--skip-bad")
    assert result.exit_code == 3, result.output
    assert codes() == {"340300", "340321", "340321101"}
    assert by_code("340321").name == "怀远县"
    out = result.output
    assert "第2行（3403XX）" in out and "第3行（3403XX101）" in out and "所在的第2行有误" in out
    assert "第5行（340321）：与第4行的区划代码重复" in out
    assert "第7行（340399）" in out and "请填写区划名称" in out and "级别应为" in out
    assert "跳过有误的 4 行" in out
    assert_tree_consistent()


def test_parent_must_come_first_or_exist(app, runner, tmp_path):
    rows = [GOOD[1], GOOD[0]]
    result = run(runner, write_csv(tmp_path / "order.csv", rows))
    assert result.exit_code != 0
    assert "第2行（340321）：上级区划代码 340300 不存在（上级须写在本行之前或已在系统中）" in result.output
    assert codes() == set()
    # once the city is stored, a later file may hang counties under it
    assert run(runner, write_csv(tmp_path / "city.csv", [GOOD[0]])).exit_code == 0
    assert run(runner, write_csv(tmp_path / "county.csv", [GOOD[1]])).exit_code == 0
    assert by_code("340321").parent.code == "340300"


def test_existing_codes_are_updated_and_moves_rewrite_paths(world, runner, tmp_path):
    town_a = world.regions["town_a"]
    rows = [
        {"code": "340400", "name": "淮南市", "parent_code": "", "level": "city"},
        {"code": "340321", "name": "怀远县（新）", "parent_code": "340400", "level": "county"},  # moves with its town
        {"code": "340322", "name": "五河县", "parent_code": "340300", "level": "county"},  # unchanged
        {"code": "340322101", "name": "城关镇（改名）", "parent_code": "340322", "level": "town"},
    ]
    result = run(runner, write_csv(tmp_path / "update.csv", rows))
    assert result.exit_code == 0, result.output
    assert "新增 1 个，更新 2 个，未变 1 个" in result.output
    city2, county = by_code("340400"), by_code("340321")
    assert county.name == "怀远县（新）" and county.parent_id == city2.id
    assert town_a.path == f"/{city2.id}/{county.id}/{town_a.id}/"
    assert by_code("340322101").name == "城关镇（改名）"
    assert_tree_consistent()


def test_existing_level_cannot_change(world, runner, tmp_path):
    rows = [{"code": "340321", "name": "怀远县", "parent_code": "", "level": "city"}]
    result = run(runner, write_csv(tmp_path / "level.csv", rows))
    assert result.exit_code != 0
    assert "已有区划 340321 为县区级，不能改为市级" in result.output
    assert by_code("340321").level == "county"


def test_file_level_errors(app, runner, tmp_path):
    (tmp_path / "regions.txt").write_text("code,name\n")
    result = run(runner, tmp_path / "regions.txt")
    assert result.exit_code != 0 and "仅支持 .csv 或 .jsonl 文件" in result.output
    (tmp_path / "nohead.csv").write_text("编码,名称\n340300,蚌埠市\n", encoding="utf-8")
    result = run(runner, tmp_path / "nohead.csv")
    assert result.exit_code != 0 and "表头缺少列：code、name、level" in result.output
    (tmp_path / "empty.jsonl").write_text("\n\n")
    result = run(runner, tmp_path / "empty.jsonl")
    assert result.exit_code != 0 and "没有数据行" in result.output
    (tmp_path / "broken.jsonl").write_text(json.dumps(GOOD[0]) + "\n{not json\n[1, 2]\n", encoding="utf-8")
    result = run(runner, tmp_path / "broken.jsonl")
    assert result.exit_code != 0
    assert "第2行：不是有效的 JSON" in result.output and "第3行：每行应为一个 JSON 对象" in result.output
    assert codes() == set()


def test_gb18030_csv_from_excel(app, runner, tmp_path):
    result = run(runner, write_csv(tmp_path / "excel.csv", GOOD, encoding="gb18030"))
    assert result.exit_code == 0, result.output
    assert by_code("340321101").name == "榴城镇"


def test_csv_with_bom_and_quoted_cells(app, runner, tmp_path):
    text = "\ufeffcode,name,parent_code,level\n340300,\"蚌埠市\",,city\n\"340321\",\"怀远县, 旧称\",340300,county\n"
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8")
    result = run(runner, tmp_path / "bom.csv")
    assert result.exit_code == 0, result.output
    assert by_code("340321").name == "怀远县, 旧称"


def test_service_report(app):
    report = regions_import([dict(r, _line=i + 2) for i, r in enumerate(GOOD)] + [
        {"_line": 7, "code": ["340300"], "name": "列表", "parent_code": "", "level": "city"}], skip_bad=True)
    assert report.stored and report.created == 5
    assert [(p.line, p.reason) for p in report.bad] == [(7, "单元格应为文本或数字；请填写行政区划代码")]
    db.session.rollback()
    report = regions_import(GOOD + [{"code": "1", "name": "x", "parent_code": "", "level": "city"}])
    assert not report.stored and report.created == 0 and report.bad[0].line == 6
    assert db.session.scalar(select(func.count()).select_from(Region)) == 0
