"""Fake Taobao TOP and JD JOS gateways on loopback: real HTTP servers in a thread that check
every request's signature the way the platforms document it, serve trades by modified time
in pages, and answer rate limits and expired sessions when told to."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


def documented_sign(params: dict[str, str], secret: str, method: str = "md5") -> str:
    """Written from the documentation, independently of the code under test: parameters
    but ``sign`` sorted by name, name+value concatenated, wrapped in the secret (md5) or
    keyed by it (hmac = HMAC-MD5), upper-case hex."""
    text = "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k] != "")
    if method == "hmac":
        return hmac.new(secret.encode(), text.encode(), hashlib.md5).hexdigest().upper()
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()  # noqa: S324


def china(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


@dataclass
class Platform:
    app_key: str
    secret: str
    session: str
    orders: list[dict[str, Any]] = field(default_factory=list)  # each has "modified"
    requests: list[dict[str, str]] = field(default_factory=list)
    bad_signatures: int = 0
    rate_limit_next: int = 0  # answer this many calls with a rate-limit error
    expire_session: bool = False
    url: str = ""

    def window(self, start: str, end: str) -> list[dict[str, Any]]:
        lo, hi = china(start), china(end)
        rows = [o for o in self.orders if lo <= china(o["modified"]) <= hi]
        return sorted(rows, key=lambda o: (o["modified"], str(o["id"])))


class _Handler(BaseHTTPRequestHandler):
    platform: Platform
    answer: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        size = int(self.headers.get("Content-Length") or 0)
        params = dict(parse_qsl(self.rfile.read(size).decode(), keep_blank_values=True))
        self.platform.requests.append(params)
        body = json.dumps(type(self).answer(self.platform, params)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def taobao_answer(p: Platform, params: dict[str, str]) -> dict[str, Any]:
    method = params.get("sign_method", "md5")
    if params.get("app_key") != p.app_key or params.get("sign") != documented_sign(
        params, p.secret, method
    ):
        p.bad_signatures += 1
        return {"error_response": {"code": 25, "msg": "Invalid signature"}}
    if p.rate_limit_next:
        p.rate_limit_next -= 1
        return {"error_response": {"code": 7, "msg": "App Call Limited",
                                   "sub_code": "accesscontrol.limited-by-app-access-count"}}  # fmt: skip
    if p.expire_session or params.get("session") != p.session:
        return {"error_response": {"code": 27, "msg": "Invalid session",
                                   "sub_code": "invalid-sessionkey"}}  # fmt: skip
    if params["method"] == "taobao.trades.sold.increment.get":
        assert params["use_has_next"] == "true"
        rows = p.window(params["start_modified"], params["end_modified"])
        size, page = int(params["page_size"]), int(params["page_no"])
        chunk = rows[(page - 1) * size : page * size]
        trades = [{"tid": o["id"], "status": o["status"], "modified": o["modified"]} for o in chunk]
        return {"trades_sold_increment_get_response": {
            "has_next": page * size < len(rows), "trades": {"trade": trades}}}  # fmt: skip
    if params["method"] == "taobao.trade.fullinfo.get":
        found = next(o for o in p.orders if str(o["id"]) == params["tid"])
        return {"trade_fullinfo_get_response": {"trade": found["full"]}}
    return {"error_response": {"code": 22, "msg": "Invalid method"}}


def jd_answer(p: Platform, params: dict[str, str]) -> dict[str, Any]:
    if params.get("app_key") != p.app_key or params.get("sign") != documented_sign(
        params, p.secret
    ):
        p.bad_signatures += 1
        return {
            "error_response": {"code": "12", "zh_desc": "无效签名", "en_desc": "Invalid Signature"}
        }
    assert params["v"] == "2.0" and params["method"] == "jingdong.pop.order.search"
    if p.rate_limit_next:
        p.rate_limit_next -= 1
        return {"error_response": {"code": "2", "zh_desc": "限制时间内调用失败次数",
                                   "en_desc": "App Call Limited"}}  # fmt: skip
    if p.expire_session or params.get("access_token") != p.session:
        return {"error_response": {"code": "19", "zh_desc": "token过期或者不存在",
                                   "en_desc": "Invalid access_token"}}  # fmt: skip
    query = json.loads(params["360buy_param_json"])
    rows = p.window(query["start_date"], query["end_date"])
    size, page = int(query["page_size"]), int(query["page"])
    chunk = [o["full"] for o in rows[(page - 1) * size : page * size]]
    return {"jingdong_pop_order_search_responce": {"searchorderinfo_result": {
        "apiResult": {"success": True, "code": "0"}, "orderInfoList": chunk,
        "orderTotal": len(rows)}}}  # fmt: skip


@contextmanager
def serve(platform: Platform, answer: Any) -> Iterator[Platform]:
    handler = type("Handler", (_Handler,), {"platform": platform, "answer": staticmethod(answer)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    platform.url = f"http://127.0.0.1:{server.server_address[1]}/router/rest"
    try:
        yield platform
    finally:
        server.shutdown()
        server.server_close()
