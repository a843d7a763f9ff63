"""The open API against its own OpenAPI 3.1 document (issue 21): schemathesis generates requests for every operation
from the document and sends them to the app (WSGI, in-process); no answer may be a server error or break the
documented schema. Authenticated operations run with a token holding every scope its owner's role allows, and the
statistics with an official's. A bounded number of examples per operation keeps each database's run short; the
figures (operations tested, cases generated) are printed and kept in the terminal summary."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from market.extensions import db
from tests.helpers import objects
from tests.test_api_tokens import city_reg_point, contract_form, demand_body, issue

EXAMPLES = int(os.environ.get("API_SCHEMA_EXAMPLES", "25"))
FIGURES: list[str] = []


@pytest.fixture
def tokens(app, world):
    objs = objects(world)  # published, pending and draft listings of both kinds (the matching engine pairs them)
    app.config["API_RATE_LIMIT"] = 0  # the generator sends far more than a client may: not what is tested here
    app.config["API_ANON_RATE_LIMIT"] = 0
    ent = issue(world.users.enterprise)
    inst = issue(world.users.institution)
    official = issue(world.users.official)
    city_reg_point(world)  # a contract submitted for registration goes to its 登记点
    db.session.commit()
    return {"demands": ent, "achievements": inst, "stats": official, "token": ent}, objs


def _real(path: str, objs, world) -> tuple[int | None, dict | None]:
    """A real object's id for the operation's {listing_id}, and a valid body for its writes: every other case uses
    them, so the generator reaches the work behind the checks, not only the refusals (404, 422)."""
    achievement_body = {**demand_body(world, modes=["transfer"], title="通过接口发布的导电膜成果"), "maturity": 5}
    if path.startswith("/api/v1/my/demands"):
        return objs.draft_demand.id, demand_body(world)
    if path.startswith("/api/v1/my/achievements"):
        return objs.draft_achievement.id, achievement_body
    if path == "/api/v1/contracts":  # multipart: the page's form fields and the scan's bytes (a file part)
        from tests.test_contracts import PDF

        return None, {**contract_form(world)(), "scan": PDF}
    message = {"message": "我们希望就该条目开展合作"} if path.endswith("/interests") else None
    if path.startswith("/api/v1/demands"):
        return objs.demand.id, message
    if path.startswith("/api/v1/achievements"):
        return objs.achievement.id, message
    return None, None


def _token_for(path: str, tokens: dict) -> str | None:
    if path.startswith("/api/v1/demands/") and path.endswith("/interests"):
        return tokens["achievements"]  # an institution answers a need
    if path.startswith("/api/v1/achievements/") and path.endswith("/interests"):
        return tokens["demands"]  # an enterprise is interested in a result
    if path.startswith("/api/v1/my/demands"):
        return tokens["demands"]
    if path.startswith("/api/v1/my/achievements"):
        return tokens["achievements"]
    if path.startswith("/api/v1/stats"):
        return tokens["stats"]
    if path.startswith("/api/v1/token") or path in ("/api/v1/contracts", "/api/v1/my/contracts"):
        return tokens["token"]  # the enterprise's token: every scope of its role, contracts:submit too
    return None


def test_every_operation_against_the_document(app, world, tokens):
    """Every operation of /api/v1/openapi.json, EXAMPLES generated cases each: 0 server errors, 0 answers outside
    the documented schema, and every operation answered 2xx at least once."""
    secrets_by_area, objs = tokens
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance]
    operations, cases, failures, statuses, never_ok = 0, 0, [], {}, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        secret = _token_for(operation.path, secrets_by_area)
        real_id, valid_body = _real(operation.path, objs, world)
        counted = {"n": 0, "ok": 0}

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            counted["n"] += 1
            if counted["n"] % 2 == 0:
                if real_id is not None and "listing_id" in (case.path_parameters or {}):
                    case.path_parameters = {**case.path_parameters, "listing_id": real_id}
                if valid_body is not None and operation.method.lower() in ("post", "put"):
                    case.body = dict(valid_body)
            headers = dict(case.headers or {})
            if secret is not None:
                headers["Authorization"] = f"Bearer {secret}"
            case.headers = headers
            db.session.commit()
            with app.app_context():
                response = case.call()
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                counted["ok"] += 200 <= response.status_code < 300
                try:
                    case.validate_response(response, checks=checks)
                finally:
                    db.session.remove()
            db.session.expire_all()

        try:
            run()
        except Exception as exc:  # reported together below, with the operation
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
        cases += counted["n"]
        if not counted["ok"]:
            never_ok.append(f"{operation.method.upper()} {operation.path}")
    line = (f"API schema run: {operations} operations tested, {cases} cases generated, {len(failures)} failing "
            f"operations; answers {dict(sorted(statuses.items()))}")
    FIGURES.append(line)
    print("\n" + line)
    assert operations >= 13
    assert not failures, "\n\n".join(failures)
    # the generator got through to the work on every operation, not only to refusals
    assert not never_ok, never_ok


def test_the_document_is_openapi_3_1_and_the_browse_page_has_no_cdn(app):
    c = app.test_client()
    doc = c.get("/api/v1/openapi.json")
    assert doc.status_code == 200 and doc.json["openapi"] == "3.1.0"
    assert "bearerAuth" in doc.json["components"]["securitySchemes"]
    page = c.get("/api/v1/docs")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "/api/v1/openapi.json" in text and "/static/js/api-docs.js" in text
    assert "http://" not in text.replace("http://localhost", "") and "https://" not in text
    assert c.get("/static/js/api-docs.js").status_code == 200


def test_the_document_written_on_first_read_is_whole_for_readers_at_once(app):
    """The views are written into the document on its first read (MarketApi.spec): readers arriving together all
    get the whole document, every operation of /api/v1 in it, and the same bytes."""
    import threading

    from flask import current_app

    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    docs: list[bytes] = []
    start = threading.Barrier(4)

    def read() -> None:
        with app.app_context():
            client = app.test_client()
            start.wait(timeout=30)
            docs.append(client.get("/api/v1/openapi.json").data)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    assert len(docs) == 4 and len(set(docs)) == 1
    import json

    paths = set(json.loads(docs[0])["paths"])
    documented = {p.replace("{", "<").replace("}", ">") for p in paths}
    assert len(paths) >= 19 and len(rules) == len(paths), (rules, paths)
    assert all(any(rule.replace("<int:", "<") == d for d in documented) for rule in rules), (rules, documented)
    with app.app_context():
        assert current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()["paths"].keys() == paths


class _Report:
    def pytest_terminal_summary(self, terminalreporter):
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def _figures_in_summary(request):
    """The run's figures at the end of the terminal output, as the access matrix prints its own."""
    request.config.pluginmanager.register(_Report(), "api-schema-report")
