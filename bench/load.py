"""Load on 127.0.0.1 with wrk against gunicorn: browsing, search, signed-in edits and contract entry.

    .venv/bin/python bench/load.py                      # the whole table, about 7 minutes
    .venv/bin/python bench/load.py --seconds 60 --cell-seconds 5 --workers 1,2,4
    .venv/bin/python bench/load.py --stacks pg-tantivy --workers 4 --scenarios mix

Stacks: SQLite + Whoosh (the embedded default) and PostgreSQL + Tantivy, each with demo data from
`flask seed-demo` in a temporary instance folder (PostgreSQL: the database market_bench_load on
127.0.0.1:5432, user postgres, created and dropped here), served by gunicorn as `make serve` does
(sync workers, access log); and a trivial Flask page under the same gunicorn settings, the ceiling
of this stack on this machine.

Scenarios, each a wrk run with a Lua script written here (bench/.load/*.lua while it runs):
  browse    anonymous: home, both lists with and without filters, page 2, detail pages
  search    anonymous: /search with Chinese queries, kinds, sort by date, page 2
  edit      an enterprise user (ent01, signed in by Python first: session cookie and CSRF token are
            handed to wrk) POSTs edits of its own draft need; every edit is a real write (new title)
  contract  a broker (broker01) POSTs a new contract, a unique 登记编号 and form token each time
  mix       55 % browse, 30 % search, 10 % edit, 5 % contract
The mix of PostgreSQL + Tantivy with the most workers runs --seconds (default 60, the issue's figure);
every other cell runs --cell-seconds. The plan and the total load time are printed first.

Errors = responses other than 2xx/3xx plus socket errors (connect, read, write, timeout); 5xx are
also counted apart. Latency is wrk's (per request, from its connections' point of view).

Rate limits under load (SECURITY.md item 24): while the main cell runs, a Python thread signs in to one account
(--throttle-account, default ent02) with wrong passwords, one attempt every --throttle-interval seconds, up to
LOGIN_FREE_FAILURES + 2 attempts, then once with the right password. Pass: the first LIMIT answers are 400
(用户名或密码不正确), every later one is 429 (the first delay, 2 s, outlasts the interval), the right password
included, since it comes from the address that has been failing. An address failing on one account slows only
itself on that account, so the run's other sign-ins (from the same 127.0.0.1) are not slowed. --no-throttle-check
leaves it out. For a short check: --stacks pg-tantivy --workers 2 --scenarios mix --seconds 10.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from market.formtokens import form_token_for  # noqa: E402
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("MARKET_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DB = "market_bench_load"
DEMO_PASSWORD = "Demo@2026pass"
SCENARIOS = ("mix", "browse", "search", "edit", "contract")
MIX = {"browse": 55, "search": 30, "edit": 10, "contract": 5}
SECRET_KEY = "bench-load-secret"
# one-time tokens written for each wrk run that posts creating forms: more than a 60 s contract-only cell sends
FORM_TOKENS_PER_RUN = 60000
SEARCHES = ("光伏玻璃", "储能电池 热管理", "传感器", "MEMS 压力芯片", "磷酸铁锂 回收", "聚乳酸 阻燃", "废水处理",
            "机器视觉检测", "橡胶 密封件", "新能源汽车", "石墨烯", "智能制造")
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
LOG_PROBLEMS = ("Traceback", "LockError", "LockBusy", "database is locked", "[ERROR]", "ERROR in ", "WORKER TIMEOUT")


def ceiling_app():
    """The trivial page: gunicorn --chdir bench 'load:ceiling_app()'."""
    from flask import Flask

    app = Flask("ceiling")

    @app.get("/")
    def index():
        return "<!doctype html><html lang=\"zh-CN\"><title>科技大市场</title><p>ok</p></html>"

    return app


# -- servers ----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, target: str, workers: int, env: dict, log: Path, chdir: Path | None = None):
        self.port = free_port()
        self.log = log
        cmd = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
               "--access-logfile", "-", "--no-control-socket"]  # one control socket per user: servers would race
        if chdir:
            cmd += ["--chdir", str(chdir)]
        with open(log, "ab") as fh:
            self.proc = subprocess.Popen(cmd + [target], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if Http(self.url).get("/").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 90 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script started
                self.proc.wait(timeout=5)


class Response:
    def __init__(self, status: int, text: str, headers):
        self.status, self.text, self.headers = status, text, headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Http:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.token = ""

    def _open(self, req) -> Response:
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Response(resp.status, resp.read().decode("utf-8", "replace"), resp.headers)
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read().decode("utf-8", "replace"), err.headers)

    def get(self, path: str) -> Response:
        return self._open(urllib.request.Request(self.base + urllib.parse.quote(path, safe="/?&=%:+,;@")))

    def post(self, path: str, data: dict) -> Response:
        body = urllib.parse.urlencode({**data, "csrf_token": self.token}, doseq=True).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, method="POST"))

    def login(self, username: str) -> "Http":
        self.token = CSRF_RE.search(self.get("/login").text).group(1)
        resp = self.post("/login", {"username": username, "password": DEMO_PASSWORD})
        if resp.status != 302:
            raise RuntimeError(f"sign-in of {username} failed: {resp.status}")
        self.token = CSRF_RE.search(self.get("/").text).group(1)
        return self

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


# -- stacks -----------------------------------------------------------------------------------------

class Stack:
    def __init__(self, name: str, label: str, folder: Path, env: dict):
        self.name, self.label, self.folder = name, label, folder
        keep = {k: v for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "SEARCH_ENGINE", "SEARCH_INDEX_DIR", "REDIS_URL", "SECRET_KEY", "UPLOAD_DIR")}
        self.env = {**keep, "MARKET_INSTANCE_DIR": str(folder), "SECRET_KEY": SECRET_KEY, **env}
        self.db_url = env.get("DATABASE_URL") or f"sqlite:///{folder / 'market.db'}"

    def flask(self, *args: str) -> str:
        result = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {result.stdout[-1000:]}{result.stderr[-2000:]}")
        return result.stdout

    def prepare(self) -> None:
        # the schema from the models, as the tests build it (the migrations are regenerated by the lead)
        code = "from market import create_app; from market.extensions import db\n" \
               "app = create_app()\nwith app.app_context(): db.create_all()"
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=self.env, check=True, timeout=120)
        self.flask("seed-demo")
        self.flask("search", "reindex")

    def facts(self) -> dict:
        """Ids and names the request lists need, read from the seeded database."""
        from sqlalchemy import create_engine, select

        from market.models import Achievement, Demand, Field, Organization, Region, User

        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                demands = conn.scalars(select(Demand.id).where(Demand.status == "published").order_by(Demand.id)).all()
                achievements = conn.scalars(select(Achievement.id).where(Achievement.status == "published")
                                            .order_by(Achievement.id)).all()
                broker_region = conn.scalar(select(User.region_id).where(User.username == "broker01"))
                counties = conn.scalars(select(Region.id).where(Region.level == "county").order_by(Region.code)).all()
                roots = conn.scalars(select(Field.code).where(Field.parent_id.is_(None)).order_by(Field.code)).all()
                sub_field = conn.scalar(select(Field.id).where(Field.parent_id.is_not(None)).order_by(Field.code))
                orgs = conn.scalars(select(Organization.name).where(Organization.org_type == "enterprise",
                                                                    Organization.status == "verified")
                                    .order_by(Organization.id).limit(2)).all()
                seller = conn.scalar(select(Organization.name).where(Organization.org_type == "university")
                                     .order_by(Organization.id).limit(1))
        finally:
            engine.dispose()
        return {"demands": demands, "achievements": achievements, "broker_region": broker_region,
                "counties": counties, "roots": roots, "sub_field": sub_field, "buyer": orgs[0],
                "seller": seller or orgs[1]}


def pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


# -- request lists and the wrk script ---------------------------------------------------------------

def q(path: str, **params) -> str:
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def browse_requests(f: dict) -> list[dict]:
    rnd = random.Random(5)
    paths = ["/", "/demands", "/achievements", "/demands?page=2", "/achievements?page=2",
             q("/demands", field=f["roots"][0]), q("/demands", region=f["counties"][0]),
             q("/demands", band="10-50"), q("/achievements", maturity=6), q("/achievements", mode="transfer"),
             q("/achievements", field=f["roots"][-1], band="negotiable")]
    paths += [f"/demands/{i}" for i in rnd.sample(f["demands"], min(20, len(f["demands"])))]
    paths += [f"/achievements/{i}" for i in rnd.sample(f["achievements"], min(20, len(f["achievements"])))]
    return [{"method": "GET", "path": p} for p in paths]


def search_requests() -> list[dict]:
    out = [q("/search", q=s) for s in SEARCHES]
    out += [q("/search", q="光伏", kind="demand"), q("/search", q="传感器", kind="achievement"),
            q("/search", q="材料", sort="date"), q("/search", q="电池", page=2)]
    return [{"method": "GET", "path": p} for p in out]


def edit_requests(session: Http, draft_id: int, field_id: int) -> list[dict]:
    body = urllib.parse.urlencode({
        "title": "演示草稿需求（第{N}次修改）：光伏玻璃减反射镀膜",
        "field_id": field_id, "keywords": "光伏玻璃、镀膜",
        "description": "寻求光伏压延玻璃减反射镀膜耐候性提升方案，要求双85老化1000小时透过率衰减小于0.5%。",
        "indicators": "透过率增益≥2.5%", "budget": "50", "modes": "development",
        "deadline": (date.today() + timedelta(days=90)).isoformat(),
        "contact_name": "王工", "contact_phone": "0552-3100100", "csrf_token": session.token,
    }).replace("%7BN%7D", "{N}")
    return [{"method": "POST", "path": f"/demands/{draft_id}/edit", "cookie": session.cookie, "body": body}]


def contract_requests(session: Http, f: dict) -> list[dict]:
    body = urllib.parse.urlencode({
        "registration_no": "B{N}", "form_token": "{T}", "title": "光伏玻璃镀膜技术开发合同",
        "contract_type": "development", "subtype": "commissioned",
        "buyer_name": f["buyer"], "seller_name": f["seller"],
        "buyer_region_id": f["broker_region"], "seller_region_id": f["counties"][-1],
        "amount": "120000.00", "tech_amount": "100000.00",
        "signed_on": (date.today() - timedelta(days=3)).isoformat(), "field_id": f["sub_field"],
        "csrf_token": session.token,
    }).replace("%7BN%7D", "{N}").replace("%7BT%7D", "{T}")
    return [{"method": "POST", "path": "/contracts/new", "cookie": session.cookie, "body": body}]


LUA = r"""
-- written by bench/load.py
local reqs = %(reqs)s
local RUN = "%(run)s"
local TOKENS_FILE = "__TOKENS_FILE__"
local THREADS = __THREADS__
local cum, total = {}, 0
for i, r in ipairs(reqs) do total = total + r.w; cum[i] = total end
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
  s5, s4, counter = 0, 0, 0
  static = {}
  for i, r in ipairs(reqs) do
    if not string.find(r.body or "", "{N}", 1, true) then
      static[i] = wrk.format(r.method, r.path, r.headers, r.body)
    end
  end
  -- one-time form tokens signed by bench/load.py with the stack's secret: each thread takes its own stripe
  tokens = {}
  local file = io.open(TOKENS_FILE)
  if file then
    for line in file:lines() do table.insert(tokens, line) end
    file:close()
  end
end

function request()
  local x = math.random() * total
  local i = 1
  while cum[i] < x do i = i + 1 end
  if static[i] then return static[i] end
  local r = reqs[i]
  counter = counter + 1
  local n = string.format("%%s%%d%%07d", RUN, tid, counter)
  local body = string.gsub(r.body, "{N}", n)
  if #tokens > 0 then
    body = string.gsub(body, "{T}", tokens[((counter - 1) * THREADS + tid - 1) %% #tokens + 1])
  end
  return wrk.format(r.method, r.path, r.headers, body)
end

function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1 elseif status >= 400 then s4 = s4 + 1 end
end

function done(summary, latency, requests)
  local t5, t4 = 0, 0
  for _, t in ipairs(threads) do t5 = t5 + (t:get("s5") or 0); t4 = t4 + (t:get("s4") or 0) end
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "p50": %%d, "p95": %%d, "p99": %%d, ' ..
    '"status": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, "s5": %%d, "s4": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, t5, t4))
end
"""


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(groups: dict[str, tuple[int, list[dict]]]) -> str:
    """groups: name -> (weight, requests); a group's weight is shared by its requests."""
    items = []
    for weight, reqs in groups.values():
        if not reqs or not weight:
            continue
        for r in reqs:
            headers = {"Host": "127.0.0.1"}
            if r.get("cookie"):
                headers["Cookie"] = r["cookie"]
            if r.get("body") is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            hdr = "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()) + "}"
            body = lua_string(r["body"]) if r.get("body") is not None else "nil"
            items.append(f"{{method = {lua_string(r['method'])}, path = {lua_string(r['path'])}, headers = {hdr}, "
                         f"body = {body}, w = {weight / len(reqs):.6f}}}")
    run = "".join(random.choice(string.ascii_uppercase) for _ in range(6))
    return LUA % {"reqs": "{\n  " + ",\n  ".join(items) + "\n}", "run": run}


def wrk(url: str, script: str, seconds: float, connections: int, threads: int, workdir: Path) -> dict:
    path = workdir / f"run-{time.monotonic_ns()}.lua"
    tokens = path.with_suffix(".tokens")
    if "{T}" in script:  # creating forms carry a one-time token signed with the site's secret (market/formtokens.py)
        tokens.write_text("".join(f"{form_token_for(secrets.token_urlsafe(24), secret_key=SECRET_KEY)}\n"
                                  for _ in range(FORM_TOKENS_PER_RUN)))
    script = script.replace("__TOKENS_FILE__", str(tokens)).replace("__THREADS__", str(threads))
    path.write_text(script, encoding="utf-8")
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "10s", "-s", str(path), url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {result.stdout}{result.stderr}")
    data = json.loads(line[len("RESULT "):])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    data["errors"] = data["status"] + data["connect"] + data["read"] + data["write"] + data["timeout"]
    data["seconds"] = round(seconds)
    return data


# -- sign-in throttle under load ----------------------------------------------------------------------

class ThrottleProbe(threading.Thread):
    """Wrong-password sign-ins for one account while the load runs; records each answer's status."""

    def __init__(self, base: str, username: str, limit: int, interval: float, delay: float = 1.0):
        super().__init__(daemon=True)
        self.base, self.username, self.limit = base, username, limit
        self.interval, self.delay = interval, delay
        self.statuses: list[int] = []  # the wrong-password attempts
        self.right_password_status: int | None = None
        self.error: str | None = None

    def _attempt(self, password: str) -> int:
        client = Http(self.base)  # a fresh visitor each time: no session, a new CSRF token
        client.token = CSRF_RE.search(client.get("/login").text).group(1)
        return client.post("/login", {"username": self.username, "password": password}).status

    def run(self) -> None:
        time.sleep(self.delay)  # the load is under way
        try:
            for i in range(self.limit + 2):
                self.statuses.append(self._attempt(f"wrong-password-{i}"))
                time.sleep(self.interval)
            self.right_password_status = self._attempt(DEMO_PASSWORD)
        except Exception as exc:  # reported, never hidden
            self.error = repr(exc)

    def verdict(self) -> tuple[bool, str]:
        expected = [400] * self.limit + [429] * 2
        held = self.error is None and self.statuses == expected and self.right_password_status == 429
        first_429 = self.statuses.index(429) + 1 if 429 in self.statuses else None
        text = (f"sign-in throttle under load ({self.username}, limit {self.limit} failures): answers "
                f"{self.statuses}, then the right password {self.right_password_status}; first 429 at attempt "
                f"{first_429} -> {'held' if held else 'NOT HELD'}" + (f" (error: {self.error})" if self.error else ""))
        return held, text


# -- the run ----------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="the main mix on PostgreSQL + Tantivy with the most workers (default 60)")
    parser.add_argument("--cell-seconds", type=float, default=5, help="every other cell of the table (default 5)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured mix before each server's cells (default 2)")
    parser.add_argument("--workers", default="1,2,4", help="gunicorn worker counts (default 1,2,4)")
    parser.add_argument("--stacks", default="sqlite-whoosh,pg-tantivy,ceiling", help="which stacks (default all three)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="which scenarios (default all)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--throttle-account", default="ent02", help="the account of the sign-in throttle check (default ent02)")
    parser.add_argument("--throttle-interval", type=float, default=0.5, help="seconds between its attempts (default 0.5)")
    parser.add_argument("--no-throttle-check", action="store_true", help="leave the sign-in throttle check out")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian)", file=sys.stderr)
        return 2
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip() in SCENARIOS]
    app_stacks = [s for s in stacks if s != "ceiling"]
    main_cell = ("pg-tantivy" if "pg-tantivy" in app_stacks else (app_stacks or [""])[-1], max(workers), "mix")
    cells = [(s, w, sc) for s in app_stacks for w in workers for sc in scenarios]
    load_time = sum(args.seconds if c == main_cell else args.cell_seconds for c in cells)
    load_time += (len(workers) * args.cell_seconds if "ceiling" in stacks else 0)
    load_time += args.warmup * len(workers) * len(stacks)
    print(f"plan: stacks {stacks}, workers {workers}, scenarios {scenarios}; wrk -t{args.threads} -c{args.connections}; "
          f"{args.seconds:.0f} s for {main_cell[0]}/{main_cell[1]} workers/mix, {args.cell_seconds:.0f} s per other cell; "
          f"about {load_time:.0f} s of load plus setup. Load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs.",
          flush=True)

    base = Path(tempfile.mkdtemp(prefix="market-load-"))
    workdir = ROOT / "bench" / ".load"
    workdir.mkdir(exist_ok=True)
    rows: list[tuple[str, int, str, dict]] = []
    notes: list[str] = []
    problems: dict[str, int] = {}
    throttle_results: list[tuple[bool, str]] = []
    try:
        for name in app_stacks:
            if name == "sqlite-whoosh":
                stack = Stack(name, "SQLite + Whoosh", base / name, {"SEARCH_ENGINE": "whoosh"})
            elif name == "pg-tantivy":
                pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                pg_admin(f'CREATE DATABASE "{PG_DB}"')
                url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"
                stack = Stack(name, "PostgreSQL + Tantivy", base / name, {"SEARCH_ENGINE": "tantivy", "DATABASE_URL": url})
            else:
                print(f"unknown stack {name!r}, skipped")
                continue
            stack.folder.mkdir(parents=True)
            t0 = time.monotonic()
            stack.prepare()
            facts = stack.facts()
            print(f"{stack.label}: demo data seeded and indexed in {time.monotonic() - t0:.0f} s "
                  f"({len(facts['demands'])} published needs, {len(facts['achievements'])} published results)", flush=True)
            draft_id = None
            for n in workers:
                log = stack.folder / f"gunicorn-{n}.log"
                server = Server("app:app", n, stack.env, log)
                try:
                    ent, broker = Http(server.url).login("ent01"), Http(server.url).login("broker01")
                    if draft_id is None:
                        resp = ent.post("/demands/new", {
                            "form_token": form_token_for(secrets.token_urlsafe(24), secret_key=SECRET_KEY),
                            "title": "演示草稿需求：光伏玻璃减反射镀膜", "field_id": facts["sub_field"], "keywords": "光伏玻璃",
                            "description": "寻求光伏压延玻璃减反射镀膜耐候性提升方案，要求双85老化后透过率衰减小。",
                            "budget": "50", "modes": "development", "contact_name": "王工", "contact_phone": "0552-3100100"})
                        draft_id = int(re.search(r"/demands/(\d+)$", resp.headers.get("Location", "")).group(1))
                    groups = {"browse": browse_requests(facts), "search": [], "edit": edit_requests(ent, draft_id, facts["sub_field"]),
                              "contract": []}
                    if Http(server.url).get("/search?q=测试").status == 200:
                        groups["search"] = search_requests()
                    elif n == workers[0]:
                        notes.append(f"{stack.label}: /search is not there yet; search skipped")
                    if broker.get("/contracts/new").status == 200:
                        groups["contract"] = contract_requests(broker, facts)
                    elif n == workers[0]:
                        notes.append(f"{stack.label}: /contracts/new is not there yet; contract entry skipped")
                    mix = {k: (MIX[k], v) for k, v in groups.items()}
                    wrk(server.url, lua_script(mix), args.warmup, args.connections, args.threads, workdir)
                    for sc in scenarios:
                        script = lua_script(mix if sc == "mix" else {sc: (1, groups[sc])})
                        if sc != "mix" and not groups[sc]:
                            continue
                        seconds = args.seconds if (name, n, sc) == main_cell else args.cell_seconds
                        probe = None
                        if (name, n, sc) == main_cell and not args.no_throttle_check:
                            limit = int(stack.env.get("LOGIN_FREE_FAILURES", 5))
                            probe = ThrottleProbe(server.url, args.throttle_account, limit, args.throttle_interval)
                            probe.start()
                        result = wrk(server.url, script, seconds, args.connections, args.threads, workdir)
                        if probe is not None:
                            probe.join(timeout=60)
                            held, text = probe.verdict()
                            throttle_results.append((held, f"{stack.label}, {n} workers, during {sc}: {text}"))
                            print(f"  {throttle_results[-1][1]}", flush=True)
                        rows.append((stack.label, n, sc, result))
                        print(f"  {stack.label:<20} {n} workers {sc:<8} {result['rps']:7.1f} req/s  p50 {result['p50'] / 1000:6.1f} ms"
                              f"  p95 {result['p95'] / 1000:6.1f} ms  p99 {result['p99'] / 1000:6.1f} ms  errors {result['errors']}"
                              f"  5xx {result['s5']}  ({result['seconds']} s)", flush=True)
                finally:
                    server.stop()
                text = log.read_text(errors="replace")
                problems[f"{stack.label}, {n} workers"] = sum(
                    1 for ln in text.splitlines() if any(p in ln for p in LOG_PROBLEMS) or re.search(r'" 5\d\d ', ln))
            check = stack.flask("search", "check")
            notes.append(f"{stack.label}: after the run, `flask search check`: {check.strip().splitlines()[-1]}")
        if "ceiling" in stacks:
            folder = base / "ceiling"
            folder.mkdir()
            for n in workers:
                server = Server("load:ceiling_app()", n, dict(os.environ), folder / f"gunicorn-{n}.log", chdir=ROOT / "bench")
                try:
                    page = {"page": (1, [{"method": "GET", "path": "/"}])}
                    wrk(server.url, lua_script(page), args.warmup, args.connections, args.threads, workdir)
                    result = wrk(server.url, lua_script(page), args.cell_seconds, args.connections, args.threads, workdir)
                    rows.append(("trivial Flask page", n, "ceiling", result))
                    print(f"  {'trivial Flask page':<20} {n} workers ceiling  {result['rps']:7.1f} req/s  p50 {result['p50'] / 1000:6.1f} ms"
                          f"  p95 {result['p95'] / 1000:6.1f} ms  p99 {result['p99'] / 1000:6.1f} ms  errors {result['errors']}", flush=True)
                finally:
                    server.stop()
    finally:
        if "pg-tantivy" in stacks:
            try:
                pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            except Exception as exc:  # pragma: no cover
                print(f"could not drop {PG_DB}: {exc}")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nwrk -t{args.threads} -c{args.connections} on 127.0.0.1, gunicorn sync workers; "
          f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    print("| stack | workers | scenario | seconds | requests/s | p50 ms | p95 ms | p99 ms | errors | of which 5xx |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, n, sc, r in rows:
        print(f"| {label} | {n} | {sc} | {r['seconds']} | {r['rps']:.1f} | {r['p50'] / 1000:.1f} | {r['p95'] / 1000:.1f} | "
              f"{r['p99'] / 1000:.1f} | {r['errors']} | {r['s5']} |")
    ceiling = {n: r["rps"] for label, n, sc, r in rows if sc == "ceiling"}
    if ceiling:
        print()
        for label, n, sc, r in rows:
            if sc in ("browse", "search") and n in ceiling:
                share = r["rps"] / ceiling[n]
                verdict = "meets" if share >= 0.5 and r["errors"] == 0 else "below"
                print(f"{label}, {n} workers, {sc}: {share:.0%} of the ceiling, {r['errors']} errors "
                      f"({verdict} the target: at least half the ceiling, 0 errors)")
    print()
    for key, count in problems.items():
        print(f"server log, {key}: {count} problem lines (tracebacks, lock errors, 5xx, worker timeouts)")
    for note in notes:
        print(note)
    for held, text in throttle_results:
        print(text)
    return 0 if all(held for held, _ in throttle_results) else 1


if __name__ == "__main__":
    sys.exit(main())
