"""The live server the browser tests use stops cleanly, however often it is started."""

from __future__ import annotations

import http.client
import logging
import threading
from urllib.parse import urlsplit

import pytest

from .serving import serving


def _hello(environ: dict, start_response) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_the_server_stops_without_a_thread_failing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    caplog.set_level(logging.ERROR, logger="waitress")
    for _ in range(100):
        with serving(_hello) as base:
            url = urlsplit(base)
            # A keep-alive connection is still open when the server stops.
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"
        conn.close()
    assert failures == []
    assert [r.getMessage() for r in caplog.records] == []
