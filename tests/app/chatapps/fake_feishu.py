"""A Feishu open platform on loopback, as open.feishu.cn documents it: the tenant access
token endpoint, sending a message (im/v1/messages) and updating one (PATCH), each checking
the Authorization header, each card request noted with the time it arrived; the address
book (contact/v3 departments' children and users find_by_department, paged with page_token,
at most ``max_page`` items a page); and a callback client that signs and encrypts like
Feishu."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.chatapps import feishu

APP_ID, APP_SECRET = "cli_test_app", "app-secret-1"
VERIFICATION_TOKEN, ENCRYPT_KEY = "verify-token-1", "encrypt-key-1"


class FakeFeishu:
    def __init__(self) -> None:
        self.tokens_issued: list[str] = []
        self.valid: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.patched: list[dict[str, Any]] = []
        self.problems: list[str] = []
        # the address book: contact/v3 department and user objects
        self.departments: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.max_page = 2
        self.contact_calls = 0
        self.expire_at_call: int | None = None  # every token expires before this call
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: dict[str, Any], status: int = 200) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> dict[str, Any]:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization") or ""
                if not auth.startswith("Bearer "):
                    self._reply({"code": 99991661, "msg": "Missing access token"}, 400)
                    return False
                if auth[7:] not in fake.valid:
                    self._reply({"code": 99991663, "msg": "Invalid access token"}, 400)
                    return False
                return True

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                body = self._body()
                if url.path == "/open-apis/auth/v3/tenant_access_token/internal":
                    if body != {"app_id": APP_ID, "app_secret": APP_SECRET}:
                        self._reply({"code": 10014, "msg": "app secret invalid"}, 400)
                        return
                    token = f"t-{secrets.token_hex(8)}"
                    fake.tokens_issued.append(token)
                    fake.valid.add(token)
                    self._reply(
                        {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200}
                    )
                    return
                if url.path == "/open-apis/im/v1/messages" and self._authorised():
                    kind = parse_qs(url.query).get("receive_id_type", [""])[0]
                    if kind not in ("open_id", "user_id") or body.get("msg_type") != "interactive":
                        fake.problems.append(f"bad send {url.query} {body.get('msg_type')}")
                    message_id = f"om_{secrets.token_hex(6)}"
                    fake.sent.append({"receive_id": body["receive_id"], "receive_id_type": kind,
                                      "card": json.loads(body["content"]), "message_id": message_id,
                                      "at": time.time()})  # fmt: skip
                    self._reply({"code": 0, "msg": "success", "data": {"message_id": message_id}})

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.contact_calls += 1
                if fake.contact_calls == fake.expire_at_call:
                    fake.expire_tokens()
                if not self._authorised():
                    return
                if (
                    query.get("department_id_type") != "open_department_id"
                    or query.get("user_id_type") != "open_id"
                ):
                    fake.problems.append(f"ids not asked as open ids: {url.query}")
                if url.path == "/open-apis/contact/v3/departments/0/children":
                    if query.get("fetch_child") != "true":
                        fake.problems.append("children without fetch_child")
                    self._page(fake.departments, query)
                elif url.path == "/open-apis/contact/v3/users/find_by_department":
                    dept = query.get("department_id", "")
                    people = [u for u in fake.users if dept in u["department_ids"]
                              or (dept == "0" and not u["department_ids"])]  # fmt: skip
                    self._page(people, query)
                else:
                    self._reply({"code": 404, "msg": "no such API"}, 404)

            def _page(self, items: list[dict[str, Any]], query: dict[str, str]) -> None:
                size = min(int(query.get("page_size", "20")), fake.max_page)
                start = int(query.get("page_token") or 0)
                more = start + size < len(items)
                data: dict[str, Any] = {"has_more": more, "items": items[start : start + size]}
                if more:
                    data["page_token"] = str(start + size)
                self._reply({"code": 0, "msg": "success", "data": data})

            def do_PATCH(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                body = self._body()
                prefix = "/open-apis/im/v1/messages/"
                if url.path.startswith(prefix) and self._authorised():
                    message_id = url.path[len(prefix) :]
                    fake.patched.append(
                        {"message_id": message_id, "card": json.loads(body["content"])}
                    )
                    self._reply({"code": 0, "msg": "success", "data": {}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def department(self, dept_id: str, name: str, parent: str = "0") -> None:
        self.departments.append({"open_department_id": dept_id, "department_id": dept_id[3:],
                                 "name": name, "parent_department_id": parent})  # fmt: skip

    def user(self, open_id: str, name: str, dept: str | None, leader: str = "", mobile: str = "",
             email: str = "") -> None:  # fmt: skip
        self.users.append({"open_id": open_id, "user_id": open_id[3:], "name": name,
                           "mobile": mobile, "email": email,
                           "department_ids": [dept] if dept else [], "leader_user_id": leader,
                           "status": {"is_activated": True, "is_resigned": False}})  # fmt: skip

    def expire_tokens(self) -> None:
        """Feishu no longer takes any token given so far."""
        self.valid.clear()

    def __enter__(self) -> FakeFeishu:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def encrypted(event: dict[str, Any], key: str = ENCRYPT_KEY) -> bytes:
    return json.dumps({"encrypt": feishu.encrypt(json.dumps(event), key, os.urandom(16))}).encode()


def signed_headers(body: bytes, *, key: str = ENCRYPT_KEY, at: int | None = None) -> dict[str, str]:
    stamp, nonce = str(at if at is not None else int(time.time())), secrets.token_hex(8)
    return {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": stamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": feishu.signature(stamp, nonce, key, body),
    }


def card_action(
    task_key: str, decision: str, open_id: str, reason: str = "", event_id: str | None = None
) -> dict[str, Any]:
    """A ``card.action.trigger`` callback (schema 2.0) for a form button on the card."""
    return {
        "schema": "2.0",
        "header": {"event_id": event_id or secrets.token_hex(16), "token": VERIFICATION_TOKEN,
                   "create_time": str(int(time.time() * 1000)), "event_type": "card.action.trigger",
                   "tenant_key": "tenant-1", "app_id": APP_ID},
        "event": {"operator": {"tenant_key": "tenant-1", "open_id": open_id, "user_id": "u-" + open_id},
                  "token": "c-" + secrets.token_hex(8),
                  "action": {"tag": "button", "name": decision,
                             "value": {"task": task_key, "decision": decision},
                             "form_value": {"reason": reason}},
                  "context": {"open_message_id": "om_x", "open_chat_id": "oc_x"}},
    }  # fmt: skip
