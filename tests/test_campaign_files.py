"""Attachments of a 揭榜方案 (issue 19): uploaded with the proposal and revised (added, removed) until the deadline
only; checked and stored as contract scans are (PDF, 10MB, generated name under UPLOAD_DIR, the uploader's name
as data); at most five; served only through /campaigns/proposal-files/<id> to the solver's verified members, the
official who runs the campaign, the panel after the deadline and, after the announcement, the company that set
the need for the winner's proposal. The review page is paged."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from market.campaigns import services
from market.extensions import db
from market.models import CampaignProposal, CampaignProposalFile
from tests import factories
from tests.helpers import Poster, client_for, count, diff, is_login_redirect, snapshot
from tests.test_campaigns import _past_deadline, _plan, setup  # noqa: F401  (setup: the fixture)
from tests.test_contracts import PDF


def _stored(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"]) / "campaigns"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _post(poster, task, *, files=(), remove=(), who="乙企业"):
    data = {**_plan(who), "files": [(io.BytesIO(b), n) for b, n in files]}
    if remove:
        data["remove_file"] = [str(i) for i in remove]
    return poster.post(f"/campaigns/tasks/{task.id}/proposal", data, content_type="multipart/form-data")


def _proposal(org) -> CampaignProposal:
    db.session.expire_all()
    return db.session.scalar(select(CampaignProposal).where(CampaignProposal.org_id == org.id))


def test_attachments_uploaded_revised_and_refused_after_the_deadline(app, world, setup):
    t, u = setup.task, world.users
    solver = Poster(client_for(app, u.enterprise_b))
    resp = _post(solver, t, files=[(PDF, "揭榜方案书.pdf"), (PDF, "../../etc/passwd.pdf")])
    assert resp.status_code == 302, resp.get_data(as_text=True)[-600:]
    p = _proposal(world.orgs.ent_b)
    assert [f.name for f in p.files] == ["揭榜方案书.pdf", "passwd.pdf"]  # a path in the name is only data
    for f in p.files:
        assert re.fullmatch(r"campaigns/[0-9a-f]{32}\.pdf", f.path) and f.size == len(PDF)
        assert (Path(app.config["UPLOAD_DIR"]) / f.path).read_bytes() == PDF
    assert len(_stored(app)) == 2
    page = solver.get(f"/campaigns/tasks/{t.id}/proposal").get_data(as_text=True)
    assert "揭榜方案书.pdf" in page and f"/campaigns/proposal-files/{p.files[0].id}" in page
    # the form names the request's limit too (MAX_CONTENT_LENGTH): two 9MB files in one post would be a 413
    assert f"一次提交合计不超过{app.config['MAX_CONTENT_LENGTH'] // 1048576 - 1}MB" in page
    # a revision removes one and adds one; the removed file leaves the disk with the commit
    first_id, first_path = p.files[0].id, p.files[0].path
    assert _post(solver, t, files=[(PDF, "补充材料.pdf")], remove=[first_id]).status_code == 302
    p = _proposal(world.orgs.ent_b)
    assert [f.name for f in p.files] == ["passwd.pdf", "补充材料.pdf"] and p.revision == 2
    assert not (Path(app.config["UPLOAD_DIR"]) / first_path).exists() and len(_stored(app)) == 2
    # at most five: 2 kept + 4 new is refused whole
    before, files_before = snapshot(), _stored(app)
    resp = _post(solver, t, files=[(PDF, f"材料{i}.pdf") for i in range(4)])
    assert resp.status_code == 400 and "最多5个附件" in resp.get_data(as_text=True)
    assert set(diff(before, snapshot())) <= {"user_sessions"} and _stored(app) == files_before
    # another proposal's attachment (or junk) cannot be removed through this one
    other = Poster(client_for(app, u.institution))
    assert _post(other, t, files=[(PDF, "大学方案.pdf")], who="大学").status_code == 302
    uni_file = _proposal(world.orgs.uni).files[0]
    before, files_before = snapshot(), _stored(app)
    for junk in ([uni_file.id], ["abc"], ["99999999999999"]):
        resp = _post(solver, t, remove=junk)
        assert resp.status_code == 400 and "要删除的附件不存在" in resp.get_data(as_text=True), junk
    assert set(diff(before, snapshot())) <= {"user_sessions"} and _stored(app) == files_before
    # three more make five
    assert _post(solver, t, files=[(PDF, f"材料{i}.pdf") for i in range(3)]).status_code == 302
    assert len(_proposal(world.orgs.ent_b).files) == 5
    # after the deadline: no upload, no removal; nothing changes, on disk either
    _past_deadline(t)
    before, files_before = snapshot(), _stored(app)
    kept = _proposal(world.orgs.ent_b).files
    for kw in ({"files": [(PDF, "截止后补交.pdf")]}, {"remove": [kept[0].id]}):
        resp = _post(solver, t, **kw)
        assert resp.status_code == 409 and "揭榜已截止" in resp.get_data(as_text=True), kw
    after = snapshot()
    after.pop("user_sessions"), before.pop("user_sessions")
    assert after == before and _stored(app) == files_before
    # the page after the deadline still lists the solver's own attachments
    page = solver.get(f"/campaigns/tasks/{t.id}/proposal").get_data(as_text=True)
    assert "揭榜已截止" in page and "补充材料.pdf" in page


def test_a_removal_rolled_back_keeps_the_file(app, world, setup):
    t = setup.task
    assert _post(Poster(client_for(app, world.users.enterprise_b)), t, files=[(PDF, "a.pdf")]).status_code == 302
    f = _proposal(world.orgs.ent_b).files[0]
    path = Path(app.config["UPLOAD_DIR"]) / f.path
    services.proposal_save(user=world.users.enterprise_b, task=t, summary="乙企业的方案概要", plan="x" * 30,
                           remove_file_ids=[f.id])
    db.session.rollback()
    assert path.is_file() and count(CampaignProposalFile) == 1


BIG = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)


@pytest.mark.parametrize("payload,name,message", [
    (b"", "空文件.pdf", "0字节"),
    (BIG, "big.pdf", "附件不能超过10MB"),
    (b"GIF89a....", "a.gif", "附件须为PDF文件"),
    (b"<html><script>alert(1)</script></html>", "a.pdf", "附件须为PDF文件"),
    (PDF + b"<HTML><body onload=alert(1)>", "a.pdf", "网页代码"),
    (b"%PDF-1.4\n%%EOF\n", "../../../static/x.pdf", "缺少PDF文件结构"),
])
def test_bad_attachments_are_refused_and_nothing_is_stored(app, world, setup, payload, name, message):
    t = setup.task
    solver = Poster(client_for(app, world.users.enterprise_b))
    before = snapshot()
    resp = _post(solver, t, files=[(PDF, "好的附件.pdf"), (payload, name)])  # one bad file refuses the whole save
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert set(diff(before, snapshot())) <= {"user_sessions"} and _stored(app) == []
    # on a revision too: the proposal stays as it was
    assert _post(solver, t).status_code == 302
    before = snapshot()
    resp = _post(solver, t, files=[(payload, name)])
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert set(diff(before, snapshot())) <= {"user_sessions"} and _stored(app) == []
    assert _proposal(world.orgs.ent_b).revision == 1


def test_too_many_files_in_one_post_refused(app, world, setup):
    solver = Poster(client_for(app, world.users.enterprise_b))
    resp = _post(solver, setup.task, files=[(PDF, f"{i}.pdf") for i in range(6)])
    assert resp.status_code == 400 and "最多5个附件" in resp.get_data(as_text=True)
    assert count(CampaignProposal) == 0 and _stored(app) == []


def _score_all(t):
    """Every panel expert not recused scores every proposal: the second enterprise's scores highest."""
    from market.campaigns.queries import recused_ids

    recused = recused_ids(t)
    for p in db.session.scalars(select(CampaignProposal).where(CampaignProposal.task_id == t.id)):
        for e in t.panel:
            if e.id in recused:
                continue
            top = p.org.name.startswith("五河乙")
            services.score_save(user=e.user, proposal=p,
                                points={c.id: c.max_points - (0 if top else 10) for c in t.criteria})
    db.session.commit()


def test_who_downloads_an_attachment(app, world, setup):
    t, u = setup.task, world.users
    assert _post(Poster(client_for(app, u.enterprise_b)), t, files=[(PDF, "合同扫描件.pdf.bat")]).status_code == 302
    assert _post(Poster(client_for(app, u.institution)), t, files=[(PDF, "大学方案.pdf")], who="大学").status_code == 302
    f = _proposal(world.orgs.ent_b).files[0]
    uni_file = _proposal(world.orgs.uni).files[0]
    url = f"/campaigns/proposal-files/{f.id}"
    colleague = factories.user(role="enterprise", org=world.orgs.ent_b, username="ent_b_colleague")
    db.session.commit()

    def status(user):
        return client_for(app, user).get(url).status_code

    # before the deadline: the solver's members and the campaign's official only
    for user in (u.enterprise_b, colleague, u.official):
        resp = client_for(app, user).get(url)
        assert resp.status_code == 200, user.username
        assert resp.data == PDF and resp.mimetype == "application/pdf"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Disposition"].startswith("attachment; ")
        assert ".bat\"" not in resp.headers["Content-Disposition"] and ".pdf" in resp.headers["Content-Disposition"]
    refused = {"other solver (also on the panel)": u.institution, "panel expert before the deadline": setup.panel_user,
               "company that set the need": u.enterprise, "other region's official": u.official_b,
               "admin": u.admin, "broker": u.broker, "unverified": u.unverified, "expert off the panel": setup.outsider}
    for who, user in refused.items():
        assert status(user) == 403, who
    assert is_login_redirect(app.test_client().get(url))
    assert client_for(app, u.enterprise_b).get(f"/campaigns/proposal-files/{uni_file.id}").status_code == 403
    assert client_for(app, u.enterprise_b).get("/campaigns/proposal-files/99999").status_code == 404
    # the review page: the official sees the links; before the deadline the panel sees no proposal at all (sealed)
    assert url in client_for(app, u.official).get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    panel_page = client_for(app, setup.panel_user).get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    assert url not in panel_page and "方案在揭榜截止前保密" in panel_page
    # after the deadline: the panel too, except the university's expert: the university competes for this 榜, so
    # its expert is recused from all of it (a rival's attachments included), nobody else new
    _past_deadline(t)
    assert status(setup.panel_user) == 200 and status(u.institution) == 403
    assert url in client_for(app, setup.panel_user).get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    for who in ("company that set the need", "other region's official", "admin", "broker", "expert off the panel"):
        assert status(refused[who]) == 403, who
    assert is_login_redirect(app.test_client().get(url))
    # after the announcement the company reads the winner's attachments, never a loser's
    _score_all(t)
    services.announce(user=u.official, task=db.session.get(type(t), t.id))
    db.session.commit()
    assert _proposal(world.orgs.ent_b).is_winner
    assert status(u.enterprise) == 200
    assert url in client_for(app, u.enterprise).get(f"/campaigns/tasks/{t.id}/project").get_data(as_text=True)
    assert client_for(app, u.enterprise).get(f"/campaigns/proposal-files/{uni_file.id}").status_code == 403
    assert client_for(app, u.enterprise_b).get(f"/campaigns/proposal-files/{uni_file.id}").status_code == 403
    assert status(u.official_b) == 403 and status(u.admin) == 403


def test_a_file_missing_on_disk_is_404(app, world, setup):
    assert _post(Poster(client_for(app, world.users.enterprise_b)), setup.task, files=[(PDF, "a.pdf")]).status_code == 302
    f = _proposal(world.orgs.ent_b).files[0]
    (Path(app.config["UPLOAD_DIR"]) / f.path).unlink()
    assert client_for(app, world.users.enterprise_b).get(f"/campaigns/proposal-files/{f.id}").status_code == 404


def test_the_review_page_is_paged(app, world, setup):
    app.config["PAGE_SIZE"] = 2
    t = setup.task
    names = []
    for n in range(3):
        org = factories.org(region=world.regions["county_b"], name=f"分页测试企业{n}")
        user = factories.user(role="enterprise", org=org, username=f"paging{n}")
        db.session.commit()
        services.proposal_save(user=user, task=t, summary=f"分页测试方案{n}号", plan="技术路线、进度与团队说明" * 3)
        db.session.commit()
        names.append(f"分页测试方案{n}号")
    official = client_for(app, world.users.official)
    one = official.get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    two = official.get(f"/campaigns/tasks/{t.id}/review?page=2").get_data(as_text=True)
    assert names[0] in one and names[1] in one and names[2] not in one
    assert names[2] in two and names[0] not in two
    assert "共 3 条" in one and "?page=2" in one
    assert official.get(f"/campaigns/tasks/{t.id}/review?page=abc").status_code == 200
    _past_deadline(t)
    assert 'id="announce" disabled' in official.get(f"/campaigns/tasks/{t.id}/review?page=2").get_data(as_text=True)
    _score_all(t)
    # every score in: the button is live on any page, even one past the last (it counts all the proposals)
    for page in (1, 2, 3):
        body = official.get(f"/campaigns/tasks/{t.id}/review?page={page}").get_data(as_text=True)
        assert 'id="announce">' in body, page
