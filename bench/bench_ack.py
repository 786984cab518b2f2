"""How fast the app acknowledges signed Slack requests over HTTP.

    python bench/bench_ack.py [--requests 300] [--concurrency 50]

Serves the real app (waitress, SQLite in a temp dir) with its Web API pointed at the loopback
Slack stand-in, then times signed `/crm help` requests one by one and in bursts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import create_app
from bot.config import Settings
from bot.dev.driver import SlackDriver
from bot.dev.standin import SlackStandIn
from bot.server import ServerThread, make_wsgi_app
from bot.services import Services
from crm.migrate import upgrade

SECRET = "bench-secret"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SlackStandIn() as standin:
        settings = Settings(
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SECRET,
            slack_api_url=standin.base_url,
            database_url=f"sqlite:///{tmp}/bench.db",
        )
        services = Services.from_settings(settings)
        upgrade(services.engine)
        app = create_app(services)
        server = ServerThread(make_wsgi_app(app, services.engine), threads=32).start()
        driver = SlackDriver(server.url + "/slack/events", SECRET, response_url_factory=standin.response_url)
        driver.command("/crm", "help")  # first request: auth.test, workspace row
        sequential = [driver.command("/crm", "help").elapsed for _ in range(args.requests)]
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            burst = list(pool.map(lambda _: driver.command("/crm", "help").elapsed, range(args.concurrency * 4)))
        server.stop()
        services.close()
    print("| requests | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|")
    for label, values in (("one at a time", sequential), (f"{args.concurrency} at once", burst)):
        print(
            f"| {label} | {statistics.median(values) * 1000:.1f} | {pct(values, 0.99):.1f} | {max(values) * 1000:.1f} |"
        )


if __name__ == "__main__":
    main()
