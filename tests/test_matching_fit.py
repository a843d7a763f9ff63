"""`flask match fit`: the matching model fitted on the market's own listings, stored beside the index."""
from __future__ import annotations

import json
import os

import pytest

from market.extensions import db
from market.matching import engine, fitting
from market.matching.engine import Matcher, model_for, model_path_for
from market.search.indexing import replica
from tests import factories

pytestmark = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                reason="fitting reads listings through the ORM and the index; nothing depends on the database kind")

# (title, summary, keywords): eight subjects, three results each
TOPICS = [
    ("导电膜", "透明导电膜的磁控溅射制备与方阻控制", "导电膜,磁控溅射,方阻"),
    ("锂电池", "锂离子电池正极材料的包覆改性与循环寿命", "锂电池,正极材料,循环寿命"),
    ("机器视觉", "产线表面缺陷的机器视觉检测与深度学习识别", "机器视觉,缺陷检测,深度学习"),
    ("污水处理", "工业废水的厌氧生物处理与脱氮除磷工艺", "污水处理,脱氮除磷,厌氧"),
    ("中药提取", "中药有效成分的超临界萃取与纯化工艺", "中药提取,超临界萃取,纯化"),
    ("水稻育种", "水稻抗病品种的分子标记辅助育种", "水稻育种,分子标记,抗病"),
    ("桥梁监测", "大跨度桥梁结构健康监测与光纤传感", "桥梁监测,光纤传感,健康监测"),
    ("焊接机器人", "焊接机器人的焊缝跟踪与路径规划", "焊接机器人,焊缝跟踪,路径规划"),
]


def _results(world, per_topic: int = 3):
    made = []
    for name, summary, keywords in TOPICS:
        for i in range(per_topic):
            made.append(factories.achievement(
                owner=world.users.institution, field=world.fields["materials" if i % 2 else "software"],
                status="published", title=f"{name}关键技术第{i + 1}项", summary=f"{summary}，第{i + 1}种方案的实验验证。",
                keywords=keywords))
    return made


def test_fit_writes_the_model_the_engine_then_prefers(world, runner):
    results = _results(world)
    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                            title="寻求锂电池正极材料改性技术", description="我公司锂电池循环寿命不足。",
                            keywords="锂电池,正极材料")
    factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=need, achievement=results[3])
    db.session.commit()
    backend = replica().backend()
    path = model_path_for(backend)
    assert not path.exists() and model_for(backend).about.startswith("bench/matching.py")  # the shipped one

    out = runner.invoke(args=["match", "fit"])
    assert out.exit_code == 0, out.output
    assert "25 个条目的探测需求，1 个已确认配对的需求" in out.output  # 24 results and the need, its deal
    assert "按关键词探测本条目：MRR@10 留出（2 折）" in out.output and "样本内" in out.output
    assert "已确认的对接与意向：MRR@10" in out.output
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["signals"] == list(engine.SIGNALS) and set(stored["weights"]) == set(fitting.MAIN_SIGNALS)
    assert stored["calibration"] and stored["about"].startswith("flask match fit: 25 listings probed")
    # one-keyword needs (48 probes: the first and the last keyword of 24 results) get a model of their own
    assert set(stored["short"]["weights"]) == set(fitting.SHORT_MODEL_SIGNALS) and stored["short"]["calibration"]
    # the slots after the first are ranked by a rest model that also reads `pivot`
    assert set(stored["rest"]["weights"]) == set(fitting.MAIN_SIGNALS) | {"pivot"}
    assert set(stored["short"]["rest"]["weights"]) == set(engine.SIGNALS)

    model = model_for(backend)
    assert model.about == stored["about"]
    matcher = Matcher(db.session, backend)
    assert matcher.model == model
    found = matcher.matches_for(need)
    assert found[0].other.id == results[3].id or results[3].id in [m.other.id for m in found[:3]]
    assert all(0 <= m.degree <= 100 for m in found)

    one = factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"], status="published",
                           title="寻求机器视觉技术", description="产线需要检测划痕。", keywords="机器视觉")
    db.session.commit()
    assert engine.is_short(one) and not engine.is_short(need)
    assert model.for_listing(one) is model.short and model.for_listing(need) is model
    ranked = matcher.matches_for(one)
    assert ranked and ranked[0].signals["probability"] == model.short.probability(ranked[0].signals)
    assert "机器视觉" in ranked[0].other.keyword_list

    path.unlink()  # removing the file brings the shipped model back
    assert model_for(backend).about.startswith("bench/matching.py")


def test_fit_dry_run_writes_nothing(world, runner):
    _results(world)
    db.session.commit()
    path = model_path_for(replica().backend())
    out = runner.invoke(args=["match", "fit", "--dry-run"])
    assert out.exit_code == 0 and "MRR@10 留出" in out.output, out.output
    assert not path.exists()


def test_fit_refuses_when_the_market_is_too_small(world, runner):
    _results(world, per_topic=1)
    db.session.commit()
    out = runner.invoke(args=["match", "fit"])
    assert out.exit_code == 1
    assert f"只有 8 个，至少需要 {fitting.MIN_SOURCES} 个" in out.output
    assert not model_path_for(replica().backend()).exists()


def test_the_fitted_model_learns_which_signals_find_the_right_pairing():
    """On rows where the right pairing has the higher bm25, the fit gives bm25 a positive weight; the soft
    label of a related pairing lies between."""
    rows = [({"bm25": 0.9, "cover": 0.5}, 1.0), ({"bm25": 0.1, "cover": 0.5}, 0.0),
            ({"bm25": 0.5, "cover": 0.5}, 0.2)] * 20
    model = fitting.fit(rows)
    assert model.weights["bm25"] > 1.0
    right, wrong, related = (model.probability(s) for s, _ in rows[:3])
    assert right > related > wrong
    calibrated = fitting.calibrate(model, [(90.0, True), (92.0, True), (10.0, False), (12.0, True), (5.0, False)])
    assert calibrated.degree(0.91) > calibrated.degree(0.1) >= 0


def test_needs_with_two_keywords_or_more_get_a_model_of_their_own():
    """fit_pair fits the keyed model on the keyworded probes alone: where those are told apart by the
    keywords found word for word and the others by bm25, the keyed model weighs `literal` more than the
    main one; a need is ranked by the model of its shape, and the model file keeps all three."""
    cands = {}
    for i in range(60):
        # keyworded probes: the right candidate has the keywords, a wrong one the higher bm25
        cands[("all", i)] = [("right", {"bm25": 0.4, "rank": 0.8, "literal": 1.0}),
                             ("wrong", {"bm25": 0.5, "rank": 1.0, "literal": 0.0})]
        # the other probes: bm25 alone tells them apart
        for variant in ("first", "title"):
            cands[(variant, i)] = [("right", {"bm25": 0.9, "rank": 1.0, "literal": 0.0}),
                                   ("wrong", {"bm25": 0.2, "rank": 0.3, "literal": 0.0})]
    short = {k for k in cands if k[0] == "first"}
    keyed = {k for k in cands if k[0] == "all"}
    model = fitting.fit_pair(cands, list(cands), lambda probe, oid: 1.0 if oid == "right" else 0.0, short, keyed=keyed)
    assert model.keyed is not None and model.short is not None
    assert model.keyed.weights["literal"] > model.weights["literal"]
    assert fitting.mrr10(model, cands, keyed, lambda probe, oid: oid == "right", short, keyed) == 1.0
    assert fitting.ranker_for(model, ("title", 0), short, keyed) is model
    assert fitting.ranker_for(model, ("first", 0), short, keyed) is model.short

    from market.models import Demand
    need = Demand(title="寻求导电膜技术", description="", keywords="导电膜,磁控溅射", status="published", version=1)
    one = Demand(title="寻求导电膜技术", description="", keywords="导电膜", status="published", version=1)
    bare = Demand(title="寻求导电膜技术", description="", keywords="", status="published", version=1)
    assert engine.is_keyed(need) and not engine.is_keyed(one) and not engine.is_keyed(bare)
    assert model.for_listing(need) is model.keyed and model.for_listing(one) is model.short
    assert model.for_listing(bare) is model
    again = engine.Model.from_json(json.loads(json.dumps(model.to_json())))
    assert again.keyed.weights == model.keyed.weights and again.short.weights == model.short.weights
    # the shipped model (bench/matching.py --write-model) carries one
    assert model_for(None).keyed is not None and model_for(None).for_listing(need) is model_for(None).keyed


def test_the_first_slot_is_the_models_and_the_others_follow_the_pivot():
    """Model.ranked: the model picks the first candidate; its rest model orders the others (here by
    `pivot`, closeness to the first one's text), their probability never above the first's."""
    rest = engine.Model(weights={"pivot": 6.0}, bias=-3.0)
    model = engine.Model(weights={"bm25": 8.0}, bias=-4.0, rest=rest)
    found = [("best", {"bm25": 0.9, "pivot": 1.0}), ("near", {"bm25": 0.3, "pivot": 0.8}),
             ("word", {"bm25": 0.6, "pivot": 0.1})]
    ranked = fitting.rank_with(model, found, raw=True)
    assert [x for x, _ in ranked] == ["best", "near", "word"]
    assert ranked[0][1] == 100.0 * model.probability(found[0][1]) >= ranked[1][1] >= ranked[2][1]
    assert [x for x, _ in fitting.rank_with(engine.Model(weights={"bm25": 8.0}, bias=-4.0), found)] == ["best", "word", "near"]
    again = engine.Model.from_json(json.loads(json.dumps(model.to_json())))
    assert again.rest == rest
