"""A separate process for the throttle tests (run as `python -m tests.throttle_worker '<json>'`).

It builds its own app on the test's database (and Redis, when given), makes the listed sign-in
attempts through that app, and prints the status codes as JSON.
"""
from __future__ import annotations

import json
import sys


def main() -> int:
    cfg = json.loads(sys.argv[1])
    from market import create_app
    from tests.helpers import post

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": cfg["db"],
        "SEARCH_INDEX_DIR": cfg["folder"] + "/index",
        "UPLOAD_DIR": cfg["folder"] + "/uploads",
        "SECRET_KEY": "throttle-worker",
        "REDIS_URL": cfg.get("redis_url"),
        "REDIS_PREFIX": cfg.get("redis_prefix", "market:"),
    }
    app = create_app(config)
    statuses = []
    for username, password, ip in cfg["attempts"]:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = ip
        statuses.append(post(client, "/login", {"username": username, "password": password}).status_code)
    print(json.dumps(statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
