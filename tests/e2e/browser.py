"""Real-server, real-browser helpers for the portal and console tests.

``LiveServer`` runs the app with uvicorn on a free loopback port in a thread; the
``browser`` fixture (in ``tests/e2e/conftest.py``) drives Debian's Chromium
(/usr/bin/chromium, installed by ``make system``) through Playwright; ``assert_accessible``
runs axe-core (bundled with axe-playwright-python) and fails on any serious or critical
violation, listing each rule, its help text and the offending elements.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "LiveServer", "assert_accessible", "live_server"]

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which
# this closed network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the test server on {self.url} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def live_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def assert_accessible(page: Any, *, context: str = "") -> None:
    """axe-core on the current page: no serious or critical violation (WCAG 2.1 A and AA)."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
        },
    )
    bad = [v for v in result.response["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        lines = [f"axe-core on {context or page.url}:"]
        for v in bad:
            targets = ", ".join(str(n["target"]) for n in v["nodes"][:5])
            lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} — {targets}")
        raise AssertionError("\n".join(lines))
