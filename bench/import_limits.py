"""What refusing each hostile import file of issue 12 costs, and how long the largest valid contract import takes.

    .venv/bin/python bench/import_limits.py                      # SQLite in a temp folder
    .venv/bin/python bench/import_limits.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/market_bench_import

The PostgreSQL database named in --database-url (its name must start with market_bench_) is dropped and created
again; no other database is touched. The files are built in a temp folder as streams (tests/hostile_files.py), so
the 1.6 GB part costs this script no memory:

  dimension     1.7 KB .xlsx whose sheet declares A1:XFD1048576 (one value in XFD1048576)
  strings bomb  1.6 MB .xlsx whose sharedStrings.xml inflates to 1.6 GB (honest zip headers)
  blank rows    .xlsx with 1,000,000 empty rows under a declared A1:K2
  long line     .csv with one 100 MB line (over IMPORT_MAX_FILE_BYTES), and one with a 15 MB line (fits an upload)
  many lines    .jsonl with 1,000,000 lines
  found in review after the first fix (the reviewer's sizes):
  huge string   5 MB .xlsx: one 30,000,000-character shared string that 5 rows refer to in columns C-K
  entities      3.2 MB .xlsx: a six-level entity expansion (1e9 characters) in sharedStrings.xml
  many sheets   10 MB .xlsx: 80,000 <sheet> elements and 120,000 empty zip entries
  styles        250 KB .xlsx: 4 MB of random <xf> in styles.xml (read, not refused: one contract row)
  and the costliest .xlsx files the limits let through: 20,000 rows of 50 empty cells, 1,000,000 shared strings

Each file is imported in a child process of its own, as the site does it: `web` posts it to /contracts/import
through the app (signed in as an administrator; files over MAX_CONTENT_LENGTH are answered 413 by Werkzeug before
the view), `cli` runs `flask import contracts FILE`. The child prints the CPU seconds (user + system) of that one
request or command, and the process's peak resident memory (ru_maxrss) during it, next to its resident memory
just before (the app started and signed in, the request body encoded); the peak is reset first (Linux
/proc/self/clear_refs), so it is the import's, not the app's start-up.
Then valid files of each --rows size (default 1,000, 5,000 and 20,000 contracts; .xlsx and .csv, new registration
numbers each time) go the same two ways: the seconds until the answer, and for a web upload over IMPORT_SYNC_ROWS
the seconds of its background job (run by the child as a consumer would), wall and CPU seconds, contracts stored, and whether `flask stats check` still finds the dashboard's summary equal
to the contracts.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from market import create_app  # noqa: E402
from market.extensions import db  # noqa: E402
from tests import hostile_files  # noqa: E402

PASSWORD = "Bench-pass-2026"
MB = 1024 * 1024
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
MESSAGE = re.compile(r'id="form-errors">([^<]*)<|id="stored-count">(\d+)<')


def log(message: str) -> None:
    print(message, flush=True)


# --- the database --------------------------------------------------------------------------------------------

def prepare_database(url: str | None, folder: Path) -> str:
    if url is None:
        return f"sqlite:///{folder / 'bench.db'}"
    parsed = make_url(url)
    if not (parsed.database or "").startswith("market_bench_"):
        raise SystemExit("refusing to recreate a database whose name does not start with market_bench_")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return url


def make_app(url: str, folder: Path):
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SEARCH_INDEX_DIR": str(folder / "index"),
        "UPLOAD_DIR": str(folder / "uploads"),
        "SECRET_KEY": "bench-secret",
        "PAGE_CACHE_SECONDS": 0,
        # a web upload over IMPORT_SYNC_ROWS queues a job: the child runs it itself (market.jobs.job_run) and
        # times it apart from the answer
        "JOBS_BACKEND": "sqlite",
        "JOBS_SQLITE_PATH": str(folder / "jobs.sqlite3"),
    })


def load_reference(app) -> None:
    """The demo city's regions, the field taxonomy, an administrator, and half the companies the files name."""
    from market.data.regions import DEMO_CITY
    from market.models import Organization, User
    from market.reference import ensure_fields
    from market.seed import ensure_regions

    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_fields()
        regions = ensure_regions(DEMO_CITY)
        admin = User(username="bench_admin", name="管理员", role="admin")
        admin.set_password(PASSWORD)
        db.session.add(admin)
        rng = random.Random(7)
        codes = sorted(regions)
        db.session.add_all(Organization(name=company(k), org_type="enterprise", status="verified",
                                        region_id=regions[rng.choice(codes)].id) for k in range(0, 3000, 2))
        db.session.commit()


def company(k: int) -> str:
    return f"蚌埠导入企业{k:04d}有限公司"


# --- the files -----------------------------------------------------------------------------------------------

def build_hostile(folder: Path) -> list[tuple[str, Path]]:
    files = [
        ("dimension A1:XFD1048576", "dimension.xlsx", hostile_files.dimension_lie, {}),
        ("sharedStrings bomb 1.6 GB", "strings-bomb.xlsx", hostile_files.shared_strings_bomb, {}),
        ("1,000,000 blank rows", "blank-rows.xlsx", hostile_files.blank_rows, {}),
        ("one 100 MB line", "long-line-100mb.csv", hostile_files.long_line_csv, {}),
        ("one 15 MB line", "long-line-15mb.csv", hostile_files.long_line_csv, {"length": 15 * MB}),
        ("1,000,000 lines", "many-lines.jsonl", hostile_files.many_lines_jsonl, {}),
        ("one 30,000,000-character shared string in C-K of 5 rows", "huge-string.xlsx",
         hostile_files.shared_string_rows, {}),
        ("entity expansion to 1e9 characters", "entities.xlsx", hostile_files.entity_expansion, {}),
        ("80,000 sheets, 120,000 zip entries", "many-sheets.xlsx", hostile_files.many_sheets, {}),
        ("4 MB of <xf> in styles.xml (one row)", "styles.xlsx", hostile_files.bloated_styles, {}),
        # the costliest files the limits let through (no data row: refused as empty)
        ("within limits: 20,000 x 50 empty cells", "every-cell-empty.xlsx", hostile_files.every_cell_empty, {}),
        ("within limits: 1,000,000 shared strings", "many-strings.xlsx", hostile_files.many_shared_strings, {}),
    ]
    out = []
    for label, name, builder, kw in files:
        path = folder / name
        started = time.perf_counter()
        with path.open("wb") as fh:
            builder(fh, **kw)
        log(f"built {name}: {size_text(path.stat().st_size)} in {time.perf_counter() - started:.1f} s")
        out.append((label, path))
    return out


def build_contracts(folder: Path, rows: int, prefix: str, suffix: str) -> Path:
    """`rows` valid contracts over the demo city: 3,000 companies (half known), 60 institutions, every region."""
    from market.data.fields import FIELDS
    from market.data.regions import DEMO_CITY

    rng = random.Random(prefix)
    codes = [r["code"] for r in DEMO_CITY]
    fields = [code for _, _, subs in FIELDS for code, _ in subs] + [""]
    today = date.today()
    table = []
    for i in range(rows):
        fen = rng.randint(100, 5_000_000_000)
        tech = rng.randint(0, fen)
        table.append([
            f"{prefix}{i:07d}", rng.choice(["技术开发", "技术转让", "技术许可", "技术咨询", "技术服务"]), "",
            company(rng.randrange(3000)), f"蚌埠导入{'大学' if rng.random() < 0.5 else '研究院'}{rng.randrange(30):02d}",
            rng.choice(codes), rng.choice(codes), f"{fen / 100:.2f}", f"{tech / 100:.2f}",
            (today - timedelta(days=rng.randrange(730))).isoformat(), rng.choice(fields),
        ])
    path = folder / f"contracts-{prefix}{suffix}"
    if suffix == ".csv":
        lines = [",".join(hostile_files.HEADERS)] + [",".join(r) for r in table]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("技术合同")
        sheet.append(hostile_files.HEADERS)
        for r in table:
            sheet.append(r)
        workbook.save(path)
    return path


def size_text(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.1f} KB"


# --- one import in a child process ---------------------------------------------------------------------------

def child(url: str, folder: Path, path: Path, via: str) -> None:
    """Import one file the way `via` says and print what it cost, as JSON on the last line."""
    app = make_app(url, folder)  # each request and command opens its own app context, as in production
    if via == "web":
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": "bench_admin", "password": PASSWORD, "csrf_token": token})
        token = CSRF.search(client.get("/contracts/import").get_data(as_text=True)).group(1)
        with path.open("rb") as fh:  # the request, body encoded, before the measure starts
            request = EnvironBuilder(path="/contracts/import", method="POST", data={
                "csrf_token": token, "file": (io.BytesIO(fh.read()), path.name)}).get_request()
        baseline = reset_peak()
        started, cpu = time.perf_counter(), cpu_seconds()
        resp = client.open(request)
        answer = time.perf_counter() - started
        if resp.status_code == 303:  # a background import: run its job here, as a consumer would
            from market.jobs import job_run
            from market.models import ImportRun, Job

            with app.app_context():
                job_id = db.session.scalar(select(func.max(Job.id)))
                db.session.remove()
                job_started = time.perf_counter()
                job_run(job_id)
                job_wall = time.perf_counter() - job_started
                run = db.session.scalar(select(ImportRun).order_by(ImportRun.id.desc()))
                said = f"background job: {run.status}, stored {run.stored}"
        else:
            job_wall = 0.0
            match = MESSAGE.search(resp.get_data(as_text=True))
            said = (match.group(1) or f"stored {match.group(2)}") if match else ""
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - started
        outcome = f"{resp.status_code} {said}".strip()
    else:
        runner = app.test_cli_runner()
        baseline = reset_peak()
        started, cpu = time.perf_counter(), cpu_seconds()
        result = runner.invoke(args=["import", "contracts", str(path), "--user", "bench_admin"])
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - started
        lines = [line for line in result.output.splitlines() if line.strip()]
        outcome = f"exit {result.exit_code} {lines[-1].removeprefix('Error: ') if lines else ''}"
    if via != "web":
        answer, job_wall = wall, 0.0
    print(json.dumps({"cpu": cpu, "wall": wall, "answer": answer, "job": job_wall, "peak": peak_mb(), "baseline": baseline, "outcome": outcome},
                     ensure_ascii=False))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> float:
    """Start ru_maxrss again from the resident memory now (Linux: clear_refs 5), so that the peak read after the
    import is the import's own, not the app's start-up (jieba's dictionary, openpyxl); returns that memory, MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return peak_mb()


def run_child(url: str, folder: Path, path: Path, via: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--via", via, "--folder", str(folder), "--url", url],
        capture_output=True, text=True, timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"child failed for {path.name} ({via}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1])


def stats_check(url: str, folder: Path) -> str:
    app = make_app(url, folder)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["stats", "check"])
        from market.models import Contract

        stored = db.session.scalar(select(func.count()).select_from(Contract))
    return f"{'summary matches' if result.exit_code == 0 else 'SUMMARY DRIFT'} ({stored:,} contracts in all)"


# --- main ----------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--rows", default="1000,5000,20000", help="contracts in each valid file (comma-separated sizes)")
    parser.add_argument("--skip-hostile", action="store_true")
    parser.add_argument("--skip-valid", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--via", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.url, Path(args.folder), Path(args.child), args.via)
        return

    folder = Path(tempfile.mkdtemp(prefix="bench_import_limits_"))
    url = prepare_database(args.database_url, folder)
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    load_reference(make_app(url, folder))
    log(f"{engine}; files in {folder}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_hostile:
        log("")
        log("| hostile file | size | via | answer | CPU s | peak MB (before) |")
        log("|---|---:|---|---|---:|---:|")
        upload_limit = make_app(url, folder).config["MAX_CONTENT_LENGTH"]
        for label, path in build_hostile(folder):
            for via in ("web", "cli"):
                if via == "web" and path.stat().st_size > upload_limit:
                    log(f"| {label} | {size_text(path.stat().st_size)} | web | 413: over MAX_CONTENT_LENGTH"
                        f" ({size_text(upload_limit)}), refused from its Content-Length, body not read | – | – |")
                    continue
                r = run_child(url, folder, path, via)
                log(f"| {label} | {size_text(path.stat().st_size)} | {via} | {r['outcome'][:60]} | {r['cpu']:.2f} |"
                    f" {r['peak']:.0f} ({r['baseline']:.0f}) |")
            path.unlink()
    if not args.skip_valid:
        log("")
        log(f"| valid file, {engine} | size | via | outcome | answer s | job s | wall s | CPU s | peak MB (before) |")
        log("|---|---:|---|---|---:|---:|---:|---:|---:|")
        n = 0
        for rows in [int(r) for r in str(args.rows).split(",")]:
            for suffix, via in [(".xlsx", "web"), (".csv", "web"), (".xlsx", "cli"), (".csv", "cli")]:
                n += 1
                path = build_contracts(folder, rows, f"BENCH{n}-", suffix)
                r = run_child(url, folder, path, via)
                log(f"| {rows:,} contracts {suffix} | {size_text(path.stat().st_size)} | {via} | {r['outcome'][:60]} |"
                    f" {r['answer']:.1f} | {r['job']:.1f} | {r['wall']:.1f} | {r['cpu']:.1f} |"
                    f" {r['peak']:.0f} ({r['baseline']:.0f}) |")
        log(stats_check(url, folder))


if __name__ == "__main__":
    main()
