"""A PostgreSQL server of a test's own (initdb + pg_ctl in a temporary folder, on a free port) that the test may
stop, kill, freeze and restart without touching the shared server at 5432. Used by tests/test_faults_database.py
and bench/faults.py.

As root the server runs as the `postgres` user (`runuser -u postgres --`), which owns the folder.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bindir() -> Path | None:
    """The folder of initdb and pg_ctl: PG_BINDIR, the newest /usr/lib/postgresql/<n>/bin, or PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    found = shutil.which("initdb")
    candidates.append(str(Path(found).parent) if found else "")
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """One throw-away PostgreSQL cluster: `start()`, `stop(mode)`, `freeze()`, `thaw()`, `cleanup()`."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or pg_bindir()
        if self.bindir is None:
            raise FileNotFoundError("initdb/pg_ctl not found (set PG_BINDIR)")
        self.folder = Path(tempfile.mkdtemp(prefix="market-pg-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        self._frozen: list[int] = []
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "-N")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")
        return done

    def start(self) -> PrivatePostgres:
        # sockets in our own folder, TCP on 127.0.0.1 only
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "30", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash of the server (no checkpoint); what was committed survives, as after a power cut
        of the processes (the WAL is written before a commit is acknowledged)."""
        self.thaw()
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def processes(self) -> list[int]:
        """The postmaster and its children (backends and background processes), postmaster first."""
        parent = self.postmaster_pid()
        if parent is None:
            return []
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:  # the field after the state is the parent's id
                children.append(int(stat.split("/")[2]))
        return [parent, *children]

    def freeze(self) -> None:
        """SIGSTOP the postmaster (first, so it forks nothing more) and every child: the server accepts TCP
        connections (the kernel does) and answers nothing."""
        pids = self.processes()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        self._frozen = pids

    def thaw(self) -> None:
        for pid in reversed(self._frozen):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._frozen = []

    def wait_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL on {self.port} not ready within {timeout}s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
