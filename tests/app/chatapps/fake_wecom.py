"""A WeCom server API on loopback, as developer.work.weixin.qq.com documents a self-built
app: ``gettoken``, ``message/send`` of a template card and ``message/update_template_card``
with a one-time ``response_code``, each checking the access token (42001 once it expired);
the address book (``department/list``, ``user/list_id`` paged by cursor at most
``max_page`` ids a page, ``user/get``); and the platform's side of the receive URL: a template-card click, encrypted and signed.

The app's settings are the ones of WeCom's official callback sample (sbzhu/weworkapi_python,
callback/Sample.py): its Token, EncodingAESKey and corp id.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from app.chatapps import msgcrypt

CORP_ID, AGENT_ID, SECRET = "ww1436e0e65a779aee", "1000002", "corp-secret-1"
TOKEN, AES_KEY = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
USERS = frozenset({"LiNa", "WangWei", "ZhaoLei"})


class FakeWeCom:
    def __init__(self) -> None:
        self.tokens_issued: list[str] = []
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.codes: set[str] = set()  # response codes issued and not used yet
        self.task_ids: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.problems: list[str] = []
        # the address book: department/list and user/get objects
        self.departments: list[dict[str, Any]] = []
        self.people: list[dict[str, Any]] = []
        self.max_page = 2
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)  # WeCom answers 200 and explains in errcode
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _query(self) -> dict[str, str]:
                return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

            def _authorised(self) -> bool:
                token = self._query().get("access_token", "")
                if not token:
                    self._reply({"errcode": 41001, "errmsg": "access_token missing"})
                elif token in fake.expired:
                    self._reply({"errcode": 42001, "errmsg": "access_token expired"})
                elif token not in fake.valid:
                    self._reply({"errcode": 40014, "errmsg": "invalid access_token"})
                else:
                    return True
                return False

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = urlsplit(self.path).path
                if path == "/cgi-bin/department/list":
                    if self._authorised():
                        self._reply({"errcode": 0, "errmsg": "ok", "department": fake.departments})
                    return
                if path == "/cgi-bin/user/get":
                    if self._authorised():
                        wanted = self._query().get("userid")
                        found = [p for p in fake.people if p["userid"] == wanted]
                        if not found:
                            self._reply({"errcode": 60111, "errmsg": "userid not found"})
                            return
                        self._reply({"errcode": 0, "errmsg": "ok", **found[0]})
                    return
                if path != "/cgi-bin/gettoken":
                    self._reply({"errcode": 404, "errmsg": "no such API"})
                    return
                query = self._query()
                if query.get("corpid") != CORP_ID:
                    self._reply({"errcode": 40013, "errmsg": "invalid corpid"})
                    return
                if query.get("corpsecret") != SECRET:
                    self._reply({"errcode": 40001, "errmsg": "invalid credential"})
                    return
                token = secrets.token_hex(16)
                fake.tokens_issued.append(token)
                fake.valid.add(token)
                self._reply({"errcode": 0, "errmsg": "ok", "access_token": token,
                             "expires_in": 7200})  # fmt: skip

            def do_POST(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self._authorised():
                    return
                if path == "/cgi-bin/user/list_id":
                    size = min(int(body.get("limit") or 1000), fake.max_page)
                    start = int(body.get("cursor") or 0)
                    ids = [{"userid": p["userid"], "department": p["main_department"]}
                           for p in fake.people]  # fmt: skip
                    reply = {"errcode": 0, "errmsg": "ok", "dept_user": ids[start : start + size]}
                    if start + size < len(ids):
                        reply["next_cursor"] = str(start + size)
                    self._reply(reply)
                    return
                if str(body.get("agentid")) != AGENT_ID:
                    self._reply({"errcode": 40056, "errmsg": "invalid agentid"})
                    return
                card = body.get("template_card") or {}
                if path == "/cgi-bin/message/send":
                    fake.check_card(card)
                    if body.get("msgtype") != "template_card":
                        fake.problems.append(f"msgtype {body.get('msgtype')}")
                    if card.get("task_id") in fake.task_ids:
                        self._reply({"errcode": 40058, "errmsg": "task_id exists"})
                        return
                    fake.task_ids.add(card.get("task_id"))
                    if body.get("touser") not in USERS:
                        self._reply(
                            {"errcode": 0, "errmsg": "ok", "invaliduser": body.get("touser")}
                        )
                        return
                    code = fake.issue_code()
                    fake.sent.append({"touser": body["touser"], "card": card,
                                      "response_code": code, "at": time.time()})  # fmt: skip
                    self._reply({"errcode": 0, "errmsg": "ok", "invaliduser": "",
                                 "msgid": secrets.token_hex(8), "response_code": code})  # fmt: skip
                elif path == "/cgi-bin/message/update_template_card":
                    code = body.get("response_code")
                    if code not in fake.codes:
                        self._reply({"errcode": 40058, "errmsg": "invalid response_code"})
                        return
                    fake.codes.discard(code)  # each code updates a card once
                    fake.check_card(card)
                    fake.updated.append({"userids": body.get("userids"), "card": card,
                                         "response_code": code})  # fmt: skip
                    self._reply({"errcode": 0, "errmsg": "ok", "invaliduser": []})
                else:
                    self._reply({"errcode": 404, "errmsg": "no such API"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def issue_code(self) -> str:
        code = secrets.token_urlsafe(24)
        self.codes.add(code)
        return code

    def check_card(self, card: dict[str, Any]) -> None:
        """What WeCom refuses in a button-interaction card, noted as a problem."""
        if card.get("card_type") != "button_interaction":
            self.problems.append(f"card_type {card.get('card_type')}")
        if not (card.get("main_title") or {}).get("title"):
            self.problems.append("no main_title.title")
        if not re.fullmatch(r"[A-Za-z0-9_\-@]{1,128}", str(card.get("task_id") or "")):
            self.problems.append(f"task_id {card.get('task_id')!r}")
        if not 1 <= len(card.get("button_list") or []) <= 6:
            self.problems.append("button_list is required, at most 6")
        if len(card.get("horizontal_content_list") or []) > 6:
            self.problems.append("more than 6 horizontal_content_list items")
        for button in card.get("button_list") or []:
            if button.get("type") == 1 and not button.get("url"):
                self.problems.append(f"a URL button without url: {button}")
            if button.get("type", 0) == 0 and not button.get("key"):
                self.problems.append(f"a callback button without key: {button}")

    def department(self, dept_id: int, name: str, parent: int = 1) -> None:
        self.departments.append({"id": dept_id, "name": name, "parentid": parent, "order": 1})

    def person(self, userid: str, name: str, dept: int, leader: str = "", mobile: str = "",
               email: str = "", status: int = 1, leads: bool = False) -> None:  # fmt: skip
        self.people.append({"userid": userid, "name": name, "department": [dept],
                            "main_department": dept, "mobile": mobile, "email": email,
                            "direct_leader": [leader] if leader else [], "status": status,
                            "is_leader_in_dept": [1 if leads else 0]})  # fmt: skip

    def expire_tokens(self) -> None:
        """Every token given so far has expired (errcode 42001)."""
        self.expired |= self.valid
        self.valid.clear()

    def __enter__(self) -> FakeWeCom:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def click(key: str, userid: str, response_code: str, task_id: str = "of-x") -> str:
    """The plain XML of a ``template_card_event``: ``userid`` clicked the button ``key``."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{userid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
        f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID>"
        "<SelectedItems></SelectedItems></xml>"
    )


def encrypted_post(
    plain: str,
    *,
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    corp_id: str = CORP_ID,
    at: int | None = None,
) -> tuple[str, bytes]:
    """(query string, body) of the POST WeCom makes to the receive URL with ``plain``."""
    stamp, nonce = str(at if at is not None else int(time.time())), str(secrets.randbelow(10**9))
    encrypted = msgcrypt.encrypt(plain, aes_key, corp_id)
    query = urlencode({"msg_signature": msgcrypt.signature(token, stamp, nonce, encrypted),
                       "timestamp": stamp, "nonce": nonce})  # fmt: skip
    body = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[{AGENT_ID}]]>"
            f"</AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")  # fmt: skip
    return query, body.encode()


def passive_reply(xml: str) -> str:
    """The ReplaceName of an encrypted ``update_button`` reply, after checking its signature."""
    part = {name: re.search(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", xml).group(1)
            for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}  # fmt: skip
    expected = msgcrypt.signature(TOKEN, part["TimeStamp"], part["Nonce"], part["Encrypt"])
    assert part["MsgSignature"] == expected, "the reply's MsgSignature does not match"
    plain = msgcrypt.decrypt(part["Encrypt"], AES_KEY, CORP_ID)
    assert "<MsgType><![CDATA[update_button]]></MsgType>" in plain, plain
    return re.search(r"<ReplaceName><!\[CDATA\[(.*?)\]\]></ReplaceName>", plain).group(1)
