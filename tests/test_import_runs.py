"""Large web imports run as a background job (issue 13 item 3, issue 14 item 4): progress, a result page, a notice,
all-or-nothing, the uploader checked again when the job runs, and a finished run never run twice."""
from __future__ import annotations

import re

import io
import json

import pytest
from sqlalchemy import func, select

from market.contracts import import_runs
from market.extensions import db
from market.models import Contract, ImportRun, Job, Notification
from tests.helpers import post
from tests.test_contract_import import jsonl, numbers, row


@pytest.fixture(autouse=True)
def _background_above_two_rows(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False
    app.config["IMPORT_SYNC_ROWS"] = 2  # a file of more rows goes to the job (which runs in-process in tests)


def _upload(client, rows: list[dict], *, skip_bad: bool = False, name: str = "合同.jsonl"):
    data = {"file": (io.BytesIO(jsonl(rows).encode("utf-8")), name)}
    if skip_bad:
        data["skip_bad"] = "y"
    return post(client, "/contracts/import", data)


def _run_id(resp) -> int:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    location = resp.headers["Location"]
    assert "/contracts/imports/" in location
    return int(location.rstrip("/").rsplit("/", 1)[1])


def test_a_large_file_is_stored_by_a_job_with_a_result_page_and_a_notice(world, login_as):
    c = login_as("official")
    rows = [row(n) for n in range(1, 6)]
    run_id = _run_id(_upload(c, rows, name="五份合同.jsonl"))
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert (run.status, run.total, run.stored, run.bad_count, run.rows) == ("done", 5, 5, 0, None)
    assert numbers() == {r["registration_no"] for r in rows}
    job = db.session.scalar(select(Job).where(Job.kind == "contracts.import"))
    assert job.status == "done" and json.loads(job.payload) == {"run": run_id}
    page = c.get(f"/contracts/imports/{run_id}").get_data(as_text=True)
    assert "已完成" in page and 'id="stored-count">5<' in page and "五份合同.jsonl" in page
    assert 'http-equiv="refresh"' not in page  # finished: the page stops refreshing
    notice = db.session.scalar(select(Notification).where(Notification.user_id == world.users.official.id,
                                                           Notification.kind == "import"))
    assert notice is not None and "已导入5份合同" in notice.text and notice.url.endswith(f"/contracts/imports/{run_id}")
    # the import page lists the run
    assert f"/contracts/imports/{run_id}" in c.get("/contracts/import").get_data(as_text=True)


def test_a_bad_row_stores_nothing_unless_skip_bad(world, login_as):
    c = login_as("official")
    rows = [row(1), row(2), row(3, amount="abc"), row(4, buyer_region="340322")]
    run_id = _run_id(_upload(c, rows))
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert (run.status, run.stored, run.bad_count) == ("refused", 0, 2)
    assert numbers() == set()
    page = c.get(f"/contracts/imports/{run_id}").get_data(as_text=True)
    assert "未导入任何合同" in page and "买方和卖方都不在您负责的区域内" in page and re.search(r"<td[^>]*>4</td>", page)  # the bad row's line (a card label may sit on the cell)
    notice = db.session.scalar(select(Notification).where(Notification.kind == "import"))
    assert "未导入任何合同" in notice.text

    run_id = _run_id(_upload(c, rows, skip_bad=True))
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert (run.status, run.stored, run.bad_count) == ("done", 2, 2)
    assert numbers() == {row(1)["registration_no"], row(2)["registration_no"]}
    page = c.get(f"/contracts/imports/{run_id}").get_data(as_text=True)
    assert 'id="stored-count">2<' in page and "跳过有误的 2 行" in page


def test_a_small_file_is_still_answered_in_the_request(world, login_as):
    resp = _upload(login_as("official"), [row(1), row(2)])
    assert resp.status_code == 200 and 'id="stored-count">2<' in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_only_the_uploader_and_administrators_see_a_run(app, world, login_as):
    run_id = _run_id(_upload(login_as("official"), [row(n) for n in range(1, 4)]))
    assert login_as("official").get(f"/contracts/imports/{run_id}").status_code == 200
    assert login_as("admin").get(f"/contracts/imports/{run_id}").status_code == 200
    for other in ("broker", "city_official"):
        assert login_as(other).get(f"/contracts/imports/{run_id}").status_code == 404
    for outsider in ("enterprise", "institution"):
        assert login_as(outsider).get(f"/contracts/imports/{run_id}").status_code == 403
    anonymous = app.test_client().get(f"/contracts/imports/{run_id}")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")


def _waiting_run(user, rows: list[dict]) -> int:
    """A run as an upload leaves it, before its job runs (the job is called directly below)."""
    run = ImportRun(kind="contracts", user_id=user.id, filename="待处理.jsonl", skip_bad=False, scoped=True,
                    total=len(rows), rows=json.dumps([[n + 1, r] for n, r in enumerate(rows)], ensure_ascii=False))
    db.session.add(run)
    db.session.flush()
    run_id = run.id
    db.session.commit()  # and no transaction left open here (SQLite: the job's session writes next)
    return run_id


def test_the_uploader_is_checked_again_when_the_job_runs(app, world):
    official = world.users.official
    run_id = _waiting_run(official, [row(1), row(2), row(3)])
    db.session.get(type(official), official.id).role = "enterprise"  # it lost its rights before the job ran
    db.session.commit()
    with app.app_context():
        import_runs.run_import(db.session, {"run": run_id})
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert run.status == "failed" and "无导入权限" in run.error and run.rows is None
    assert numbers() == set()


def test_a_finished_run_is_not_run_again(app, world):
    run_id = _waiting_run(world.users.official, [row(1), row(2), row(3)])
    with app.app_context():
        import_runs.run_import(db.session, {"run": run_id})
    with app.app_context():
        result = import_runs.run_import(db.session, {"run": run_id})
    assert "nothing to do" in result
    db.session.expire_all()
    assert db.session.get(ImportRun, run_id).stored == 3
    assert db.session.scalar(select(func.count()).select_from(Contract)) == 3


def test_progress_is_shown_while_a_run_works(world, login_as):
    run_id = _waiting_run(world.users.official, [row(n) for n in range(1, 4)])
    run = db.session.get(ImportRun, run_id)
    run.status, run.total, run.processed = "checking", 1200, 500
    db.session.commit()
    page = login_as("official").get(f"/contracts/imports/{run_id}").get_data(as_text=True)
    assert "已检查 500 / 1200 行" in page and 'http-equiv="refresh"' in page and 'value="37"' in page
