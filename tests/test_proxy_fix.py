"""Behind a reverse proxy (PROXY_FIX=1): the client's address, scheme and host come from the proxy's headers.

Without PROXY_FIX those headers are ignored, so a client cannot pick its own address to dodge the
per-address sign-in throttle.
"""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from market import create_app
from market.config import Config
from market.extensions import db
from market.models import LoginFailure
from tests.helpers import app_config, post

FORWARDED = {
    "X-Forwarded-For": "198.51.100.1, 203.0.113.7",  # what the client claimed, then what the proxy saw
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "kjdsc.example.gov.cn",
}


def _with_probe(app):
    def probe():
        return jsonify(addr=request.remote_addr, scheme=request.scheme, host=request.host, secure=request.is_secure)

    app.add_url_rule("/_proxy_probe", "proxy_probe", probe)
    return app


def _failure_keys() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(LoginFailure.key)))


def test_forwarded_headers_are_ignored_by_default(app, world, database_url, tmp_path):
    plain = _with_probe(create_app(app_config(database_url, tmp_path / "plain")))
    assert plain.config["PROXY_FIX"] == 0
    seen = plain.test_client().get("/_proxy_probe", headers=FORWARDED).get_json()
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost", "secure": False}

    db.session.commit()
    client = plain.test_client()
    resp = post(client, "/login", {"username": "ent_a", "password": "wrong-password"}, headers=FORWARDED)
    assert resp.status_code == 400
    assert _failure_keys() == {"acct:ent_a", "src:ent_a", "pair:ent_a|127.0.0.1", "ip:127.0.0.1"}


def test_proxy_fix_takes_the_address_scheme_and_host_from_one_proxy(app, world, database_url, tmp_path):
    proxied = _with_probe(create_app({**app_config(database_url, tmp_path / "proxied"), "PROXY_FIX": 1}))
    seen = proxied.test_client().get("/_proxy_probe", headers=FORWARDED).get_json()
    # one trusted proxy: the address it appended, not the one the client wrote before it
    assert seen == {"addr": "203.0.113.7", "scheme": "https", "host": "kjdsc.example.gov.cn", "secure": True}

    db.session.commit()
    client = proxied.test_client()
    page = client.get("/login", headers=FORWARDED)
    token = page.get_data(as_text=True).split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    headers = {**FORWARDED, "Referer": "https://kjdsc.example.gov.cn/login"}  # HTTPS: Flask-WTF checks the referrer
    resp = client.post("/login", data={"username": "ent_a", "password": "wrong-password", "csrf_token": token},
                       headers=headers)
    assert resp.status_code == 400
    assert "用户名或密码不正确" in resp.get_data(as_text=True)
    assert _failure_keys() == {"acct:ent_a", "src:ent_a", "pair:ent_a|203.0.113.7", "ip:203.0.113.7"}


def test_proxy_fix_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKET_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x")
    for value, hops in (("1", 1), ("2", 2), ("true", 1), ("0", 0), ("", 0), ("no", 0)):
        monkeypatch.setenv("PROXY_FIX", value)
        assert Config().PROXY_FIX == hops
    monkeypatch.delenv("PROXY_FIX")
    assert Config().PROXY_FIX == 0
