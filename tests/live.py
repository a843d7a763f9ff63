"""Live servers for the multi-process tests: real gunicorn nodes on 127.0.0.1 and a small HTTP client.

The client keeps cookies and the page's CSRF token, and does not follow redirects (a successful form
post answers 302, which the tests assert).
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
# settings that would leak from the developer's shell into a node and change what it serves
_NODE_ENV_DROP = ("DATABASE_URL", "SEARCH_INDEX_DIR", "SEARCH_ENGINE", "UPLOAD_DIR", "REDIS_URL", "REDIS_PREFIX",
                  "MARKET_INSTANCE_DIR", "SECRET_KEY", "MARKET_CRASH_AT", "HTTPS", "TRUSTED_HOSTS", "PROXY_FIX")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    status: int
    text: str
    headers: dict

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Http:
    """One browser: its own cookie jar; `post` adds the CSRF token of the signed-in session."""

    def __init__(self, base: str, jar: http.cookiejar.CookieJar | None = None, token: str | None = None):
        self.base = base.rstrip("/")
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.token = token
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, data: dict | list | None = None, timeout: float = 30) -> Response:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        path = urllib.parse.quote(path, safe="/?&=%:+,;@")  # CJK in queries, percent-encoded as a browser does
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return Response(resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers))
        except urllib.error.HTTPError as err:  # 3xx (not followed), 4xx, 5xx
            return Response(err.code, err.read().decode("utf-8", "replace"), dict(err.headers))

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def fetch_token(self, path: str = "/login") -> str:
        page = self.get(path).text
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token on {path}"
        self.token = match.group(1)
        return self.token

    def post(self, path: str, data: dict | None = None, **kw) -> Response:
        data = dict(data or {})
        if "csrf_token" not in data:
            data["csrf_token"] = self.token or self.fetch_token()
        return self.request("POST", path, data, **kw)

    def login(self, username: str, password: str) -> Http:
        self.fetch_token("/login")
        resp = self.post("/login", {"username": username, "password": password})
        assert resp.status == 302, (resp.status, resp.text[:300])
        self.fetch_token("/")  # the signed-in session's token
        return self

    def on(self, base: str) -> Http:
        """The same browser session sent to another server (a load balancer without sticky sessions)."""
        jar = http.cookiejar.CookieJar()
        for cookie in self.jar:
            jar.set_cookie(cookie)
        return Http(base, jar, self.token)

    def clone(self) -> Http:
        return self.on(self.base)


class Node:
    """One application node: a gunicorn master with its workers, its own instance folder and port."""

    def __init__(self, name: str, folder: Path, *, env: dict, workers: int = 2, port: int | None = None):
        self.name = name
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.workers = workers
        self.log_path = self.folder / "gunicorn.log"
        base = {k: v for k, v in os.environ.items() if k not in _NODE_ENV_DROP}
        self.env = {**base, "MARKET_INSTANCE_DIR": str(self.folder), "PYTHONUNBUFFERED": "1", **env}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def index_dir(self) -> Path:
        return Path(self.env.get("SEARCH_INDEX_DIR") or self.folder / "index")

    def start(self, timeout: float = 40) -> Node:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Node:
        """Start the server without waiting (start several nodes, then wait for each)."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", "-", "--timeout", "60", "--graceful-timeout", "5",
             # gunicorn 27's control socket is one file per user ($HOME/.gunicorn/gunicorn.ctl): two nodes started
             # together raced for it and one logged "Address ... already in use" (an ERROR the tests count); the
             # test servers need no control socket
             "--no-control-socket", "app:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 40) -> Node:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log()[-2000:]}")
            try:
                if Http(self.url).get("/", timeout=5).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout}s: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the master stops its own workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test started, by its id
            self.proc.wait(timeout=5)

    def flask(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
