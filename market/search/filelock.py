"""An exclusive, blocking, cross-process lock on a file (fcntl.flock) with a timeout.

Each index folder has one lock file; every writer of that folder, in any process or thread, holds it
from opening the engine's writer until the writer is committed and released. flock locks belong to an
open file description, so two threads of one process opening the file separately exclude each other too.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_NAME = ".market-writer.lock"


class LockTimeout(TimeoutError):
    """The index writer lock could not be taken in time."""


@contextmanager
def file_lock(path: str, timeout: float = 60.0, poll: float = 0.02) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"index writer lock busy for {timeout:.0f}s: {path}") from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def writer_lock(folder: str, timeout: float = 60.0) -> Iterator[None]:
    """The writer lock of an index folder."""
    return file_lock(os.path.join(folder, LOCK_NAME), timeout=timeout)
