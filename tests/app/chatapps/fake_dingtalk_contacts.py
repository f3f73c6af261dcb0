"""DingTalk's address book on loopback, as open.dingtalk.com documents the server API:
``gettoken`` (AppKey, AppSecret), ``topapi/v2/department/listsub`` (the direct
sub-departments) and ``topapi/v2/user/list`` (the people of one department, paged by
``cursor`` with ``has_more`` / ``next_cursor``, at most ``max_page`` a page), each checking
the access token (errcode 88 once it expired)."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

APP_KEY, APP_SECRET = "dingoa1b2c3d4e5", "ding-secret-1"


class FakeDingTalkContacts:
    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.tokens_issued: list[str] = []
        self.departments: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.max_page = 2
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _query(self) -> dict[str, str]:
                return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                query = self._query()
                if urlsplit(self.path).path != "/gettoken":
                    self._reply({"errcode": 404, "errmsg": "no such API"})
                elif (query.get("appkey"), query.get("appsecret")) != (APP_KEY, APP_SECRET):
                    self._reply({"errcode": 40089, "errmsg": "invalid appkey or appsecret"})
                else:
                    token = secrets.token_hex(16)
                    fake.tokens_issued.append(token)
                    fake.valid.add(token)
                    self._reply({"errcode": 0, "errmsg": "ok", "access_token": token,
                                 "expires_in": 7200})  # fmt: skip

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self._query().get("access_token") not in fake.valid:
                    self._reply({"errcode": 88, "errmsg": "access_token expired"})
                    return
                path = urlsplit(self.path).path
                if path == "/topapi/v2/department/listsub":
                    found = [d for d in fake.departments if d["parent_id"] == body["dept_id"]]
                    self._reply({"errcode": 0, "errmsg": "ok", "result": found})
                elif path == "/topapi/v2/user/list":
                    people = [u for u in fake.users if u["dept_id_list"][0] == body["dept_id"]]
                    size = min(int(body["size"]), fake.max_page)
                    start = int(body["cursor"])
                    result: dict[str, Any] = {"has_more": start + size < len(people),
                                              "list": people[start : start + size]}  # fmt: skip
                    if result["has_more"]:
                        result["next_cursor"] = start + size
                    self._reply({"errcode": 0, "errmsg": "ok", "result": result})
                else:
                    self._reply({"errcode": 404, "errmsg": "no such API"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def department(self, dept_id: int, name: str, parent: int = 1) -> None:
        self.departments.append({"dept_id": dept_id, "name": name, "parent_id": parent})

    def user(self, userid: str, name: str, dept: int, manager: str = "", mobile: str = "") -> None:
        self.users.append({"userid": userid, "name": name, "dept_id_list": [dept],
                           "manager_userid": manager, "mobile": mobile, "active": True})  # fmt: skip

    def expire_tokens(self) -> None:
        self.valid.clear()

    def __enter__(self) -> FakeDingTalkContacts:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
