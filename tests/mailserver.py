"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port): it keeps every accepted message, and
can be told to refuse mail (451, a temporary failure) to test the mail job's retries, or to refuse some
recipients for good (550)."""
from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.sink.unknown:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.sink.refuse:
            return "451 4.3.0 mailbox temporarily unavailable"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)
        return "250 OK"


class MailSink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.refuse = False  # every message: 451 (try again later)
        self.unknown: set[str] = set()  # these recipients: 550 (no such mailbox, for good)
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[email.message.EmailMessage]:
        """The messages to `address` once there are at least `count` (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} mail(s) to {address} expected, got {len(self.to(address))}")


@contextmanager
def mail_sink_for(app, *, site_url: str, **config) -> Iterator[MailSink]:
    """A MailSink started for the time of the block, with `app` mailing to it (its mail links start with site_url;
    `config`: more settings); the `smtp` fixtures (tests/conftest.py, tests/browser/conftest.py)."""
    sink = MailSink().start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port, MAIL_FROM="科技大市场 <noreply@market.test>",
                      SITE_URL=site_url, **config)
    try:
        yield sink
    finally:
        sink.stop()


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def links(message) -> list[str]:
    return re.findall(r"https?://\S+", body(message))


def unsubscribe_link(message) -> str:
    return next(line.split("：", 1)[1].strip() for line in body(message).splitlines()
                if line.startswith("不再接收此类邮件"))
