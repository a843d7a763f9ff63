"""The field classifier behind the `topic` signal (market/matching/topics.py): trained on listings whose owners
chose a technical field, it predicts a field for those that have none; `flask match fit` stores it with the model."""
from __future__ import annotations

import json
import os

import pytest

from market.extensions import db
from market.matching import fitting
from market.matching.engine import Matcher, Model, model_for, model_path_for
from market.matching.topics import TopicClassifier, agreement
from market.search.indexing import replica
from tests import factories

pytestmark = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                reason="the classifier reads listings through the ORM and the index; nothing depends on the database kind")

DOCS = [
    (["锂电池", "正极材料", "循环寿命", "电解液"], "energy"),
    (["锂电池", "负极材料", "硅碳", "电解液"], "energy"),
    (["储能", "锂电池", "电池管理", "循环寿命"], "energy"),
    (["机器视觉", "缺陷检测", "深度学习", "相机"], "software"),
    (["深度学习", "目标检测", "机器视觉", "标注"], "software"),
    (["边缘计算", "深度学习", "模型压缩", "相机"], "software"),
]


def test_the_classifier_learns_fields_from_labelled_listings_and_agrees_on_them():
    clf = TopicClassifier.fit(DOCS)
    battery = clf.predict(["锂电池", "电解液"])
    vision = clf.predict(["机器视觉", "相机"])
    assert max(battery, key=battery.get) == "energy" and battery["energy"] > 0.9
    assert max(vision, key=vision.get) == "software"
    assert abs(sum(battery.values()) - 1.0) < 1e-3
    assert agreement(battery, clf.predict(["循环寿命", "锂电池"])) > 0.8 > 0.2 > agreement(battery, vision)
    assert clf.predict(["没见过的词"]) == {}  # nothing known: no prediction, the signal stays 0
    # a term seen in one labelled listing only is not kept (it would only memorise that listing)
    assert "硅碳" not in clf.counts and "锂电池" in clf.counts
    # too few labels: no classifier
    assert TopicClassifier.fit([(["锂电池"], "energy"), (["电解液"], "energy")]) is None


def test_leave_one_out_takes_a_labelled_listings_own_counts_out():
    clf = TopicClassifier.fit(DOCS + [(["锂电池", "机器视觉"], "software")] * 1)
    plain = clf.predict(["锂电池", "机器视觉"])
    loo = clf.predict(["锂电池", "机器视觉"], own=("software", ["锂电池", "机器视觉"]))
    assert loo["software"] < plain["software"]  # without its own counts it leans less to its own label


def test_the_classifier_round_trips_through_the_model_file(tmp_path):
    clf = TopicClassifier.fit(DOCS)
    model = Model(weights={"bm25": 1.0, "topic": 2.0}, bias=-1.0, classifier=clf)
    again = Model.from_json(json.loads(json.dumps(model.to_json())))
    assert again.classifier is not None and again.weights["topic"] == 2.0
    assert again.classifier.predict(["锂电池", "电解液"]) == clf.predict(["锂电池", "电解液"])
    assert Model.from_json({"weights": {"bm25": 1}, "classifier": {"docs": "broken"}}).classifier is None


def _market(world):
    f, u = world.fields, world.users
    subjects = [
        ("materials", "锂电池", "锂离子电池正极材料的包覆改性，提高循环寿命与倍率性能", "锂电池,正极材料,循环寿命"),
        ("materials", "电解液", "锂电池电解液添加剂与界面成膜，改善低温性能", "电解液,锂电池,添加剂"),
        ("materials", "隔膜", "锂电池陶瓷涂覆隔膜，提高热稳定性与循环寿命", "隔膜,锂电池,涂覆"),
        ("software", "机器视觉", "产线表面缺陷的机器视觉检测，深度学习识别划痕", "机器视觉,缺陷检测,深度学习"),
        ("software", "目标检测", "深度学习目标检测模型的压缩与边缘部署，工业相机实时识别", "目标检测,深度学习,边缘计算"),
        ("software", "图像识别", "工业相机图像识别与深度学习标注平台", "图像识别,深度学习,工业相机"),
    ]
    made = []
    for i in range(4):
        for field, name, summary, keywords in subjects:
            a = factories.achievement(owner=u.institution, field=f[field], status="published",
                                      title=f"{name}技术第{i + 1}项", summary=f"{summary}，第{i + 1}种方案。",
                                      keywords=keywords)
            if i == 3:  # imported without a field
                a.field_id = None
            made.append(a)
    return made


def test_fit_topic_stores_a_classifier_and_the_engine_uses_it_for_listings_without_a_field(world, runner):
    made = _market(world)
    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                            title="寻求锂电池相关技术", description="我公司需要提高产品的循环寿命。", keywords="锂电池")
    need.field_id = None  # posted in a hurry, without a field
    db.session.commit()
    out = runner.invoke(args=["match", "fit", "--topic"])
    assert out.exit_code == 0, out.output
    assert "技术领域分类器：18 个选了技术领域的条目，2 个领域" in out.output
    backend = replica().backend()
    stored = json.loads(model_path_for(backend).read_text(encoding="utf-8"))
    assert set(stored["classifier"]["docs"]) == {world.fields["materials"].code, world.fields["software"].code}
    assert sum(stored["classifier"]["docs"].values()) == 18  # the 18 published listings with a field

    model = model_for(backend)
    assert model.classifier is not None
    matcher = Matcher(db.session, backend)
    found = {m.other.id: m for m in matcher.candidates(need)}
    battery = [m for m in made if "锂电池" in m.keyword_list or "电解液" in m.title or "隔膜" in m.title]
    vision = [m for m in made if m not in battery]
    unlabelled = [m for m in battery if m.field_id is None and m.id in found]
    assert unlabelled and all(found[m.id].signals["topic"] > 0.5 for m in unlabelled)  # predicted, not given
    # a listing whose owner chose a field the classifier knows is taken at its word
    labelled = next(m for m in battery if m.field_id is not None)
    assert matcher.topic_of(labelled, []) == {world.fields["materials"].code: 1.0}
    assert all(found[m.id].signals["topic"] < 0.5 for m in vision if m.id in found)
    assert set(fitting.MAIN_SIGNALS) == set(stored["weights"])


def test_fit_without_topic_stores_no_classifier(world, runner):
    _market(world)
    db.session.commit()
    out = runner.invoke(args=["match", "fit"])
    assert out.exit_code == 0 and "技术领域分类器" not in out.output, out.output
    stored = json.loads(model_path_for(replica().backend()).read_text(encoding="utf-8"))
    assert "classifier" not in stored and stored["weights"]["topic"] == 0.0
    assert model_for(replica().backend()).classifier is None
