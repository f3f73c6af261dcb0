"""Real receivers on loopback for notification tests: an SMTP server (aiosmtpd) that keeps
every message, and an HTTP server that plays the WeCom, DingTalk and Feishu group robots and
an SMS gateway, checking each one's documented message format and signature."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from email.message import Message
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

LINK_RE = re.compile(r"https?://\S+/approvals/link/\S+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """An SMTP server on loopback; ``messages`` holds what arrived, with arrival times."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived: list[float] = []
        self.event = threading.Event()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                sink.messages.append(email.message_from_bytes(envelope.content, policy=default))
                sink.arrived.append(time.perf_counter())
                sink.event.set()
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def config(self) -> dict[str, str]:
        return {"host": "127.0.0.1", "port": str(self.port), "security": "none",
                "sender": "orderflow@example.com"}  # fmt: skip

    def wait(self, count: int = 1, timeout: float = 10) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        return self.messages

    @staticmethod
    def body(message: Message) -> str:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(message.get_content_charset() or "utf-8")

    def links(self) -> list[str]:
        return [m for msg in self.messages for m in LINK_RE.findall(self.body(msg))]


class RobotServer:
    """Plays the group robots and the SMS gateway; refuses a request whose format or
    signature is wrong exactly as the real service would (HTTP 200 with an error code)."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.secrets = secrets or {}
        self.received: list[dict[str, Any]] = []
        self.problems: list[str] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urlsplit(self.path)
                kind = url.path.strip("/").split("/")[0]
                body = json.loads(raw)
                reply = getattr(robot, f"check_{kind}")(
                    body, parse_qs(url.query), self.headers, raw
                )
                robot.received.append(
                    {"kind": kind, "body": body, "reply": reply, "path": self.path}
                )
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{kind}/send?key=test"

    def __enter__(self) -> RobotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _fail(self, problem: str, reply: dict[str, Any]) -> dict[str, Any]:
        self.problems.append(problem)
        return reply

    # WeCom: {"msgtype": "markdown", "markdown": {"content": ...}} (text/markdown/news ...).
    def check_wecom(self, body, query, headers, raw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        kind = body.get("msgtype")
        if kind not in ("text", "markdown") or not isinstance(body.get(kind), dict):
            return self._fail(
                "wecom: bad msgtype", {"errcode": 40008, "errmsg": "invalid message type"}
            )
        content = body[kind].get("content")
        if not isinstance(content, str) or not content or len(content.encode()) > 4096:
            return self._fail("wecom: bad content", {"errcode": 40058, "errmsg": "content invalid"})
        return {"errcode": 0, "errmsg": "ok"}

    # DingTalk: &timestamp=<ms>&sign=<base64 hmac>, body with msgtype markdown and "at".
    def check_dingtalk(self, body, query, headers, raw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        secret = self.secrets.get("dingtalk")
        if secret:
            stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            mac = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
            fresh = stamp.isdigit() and abs(time.time() * 1000 - int(stamp)) < 3_600_000
            if not fresh or not hmac.compare_digest(sign, base64.b64encode(mac).decode()):
                return self._fail(
                    "dingtalk: bad sign", {"errcode": 310000, "errmsg": "sign not match"}
                )
        md = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
            return self._fail(
                "dingtalk: bad markdown", {"errcode": 40035, "errmsg": "缺少参数 markdown"}
            )
        if not isinstance(body.get("at", {}).get("atMobiles", []), list):
            return self._fail("dingtalk: bad at", {"errcode": 40035, "errmsg": "at invalid"})
        return {"errcode": 0, "errmsg": "ok"}

    # Feishu: {"timestamp": "<s>", "sign": base64(hmac(key="<ts>\n<secret>", msg="")), "msg_type": ...}.
    def check_feishu(self, body, query, headers, raw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        secret = self.secrets.get("feishu")
        if secret:
            stamp = str(body.get("timestamp", ""))
            mac = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 3600
            if not fresh or not hmac.compare_digest(
                str(body.get("sign")), base64.b64encode(mac).decode()
            ):
                return self._fail(
                    "feishu: bad sign",
                    {
                        "code": 19021,
                        "msg": "sign match fail or timestamp is not within one hour from current time",
                    },
                )
        post = (body.get("content") or {}).get("post") or {}
        lang = next(iter(post.values()), {}) if post else {}
        if (
            body.get("msg_type") != "post"
            or not lang.get("title")
            or not isinstance(lang.get("content"), list)
        ):
            return self._fail("feishu: bad post", {"code": 9499, "msg": "Bad Request"})
        return {"code": 0, "msg": "success", "data": {}}

    # SMS gateway: {"to", "text"} signed like OrderFlow webhooks.
    def check_sms(self, body, query, headers, raw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        secret = self.secrets.get("sms")
        header = headers.get("X-OrderFlow-Signature", "")
        if secret:
            parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
            mac = hmac.new(secret.encode(), f"{parts.get('t')}.".encode() + raw, hashlib.sha256)
            if not hmac.compare_digest(parts.get("v1", ""), mac.hexdigest()):
                return self._fail("sms: bad signature", {"ok": False, "error": "signature"})
        if not re.fullmatch(r"\+?[0-9]{6,15}", str(body.get("to", ""))) or not body.get("text"):
            return self._fail("sms: bad body", {"ok": False, "error": "body"})
        return {"ok": True, "id": f"sms-{len(self.received)}"}
