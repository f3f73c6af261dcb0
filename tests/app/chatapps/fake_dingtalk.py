"""A DingTalk open platform on loopback, as open.dingtalk.com documents an internal app:
the new API's ``oauth2/accessToken``, sending an interactive card to one person
(``im/interactiveCards/send``) and updating it (``PUT im/interactiveCards``), each checking
the ``x-acs-dingtalk-access-token`` header (401 ``InvalidAuthentication`` once it expired);
and the platform's side of the callback URL: a card button click, encrypted and signed.

The callback settings are the ones of DingTalk's official crypto sample
(open-dingtalk/DingTalk-Callback-Crypto, DingCallbackCrypto3.py): its Token, aes_key and key.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

from app.chatapps import msgcrypt

APP_KEY, APP_SECRET = "ding6ccabc44d2c8d38b", "app-secret-1"
TOKEN, AES_KEY = "mryue", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
TEMPLATE = "tpl-orderflow-approval.schema"
USERS = frozenset({"LiNa", "WangWei", "ZhaoLei"})
# The variables the card template in the docs uses; every value is a string.
VARIABLES = frozenset({"title", "node", "markdown", "state", "pending", "approve_text",
                       "reject_text", "details_text", "detail_url", "reject_url", "outcome",
                       "notice"})  # fmt: skip


class FakeDingTalk:
    def __init__(self) -> None:
        self.tokens_issued: list[str] = []
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.track_ids: dict[str, str] = {}  # outTrackId -> userid
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

            def _authorised(self) -> bool:
                token = self.headers.get("x-acs-dingtalk-access-token") or ""
                if token in fake.valid:
                    return True
                said = "token expired" if token in fake.expired else "token is invalid"
                self._reply({"code": "InvalidAuthentication", "message": said,
                             "requestid": secrets.token_hex(8)}, 401)  # fmt: skip
                return False

            def _handle(self, method: str) -> None:
                path = urlsplit(self.path).path
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if (method, path) == ("POST", "/v1.0/oauth2/accessToken"):
                    if body != {"appKey": APP_KEY, "appSecret": APP_SECRET}:
                        self._reply({"code": "invalidClientIdOrSecret",
                                     "message": "无效的clientId或者clientSecret"}, 400)  # fmt: skip
                        return
                    token = secrets.token_hex(16)
                    fake.tokens_issued.append(token)
                    fake.valid.add(token)
                    self._reply({"accessToken": token, "expireIn": 7200})
                    return
                if not self._authorised():
                    return
                params = (body.get("cardData") or {}).get("cardParamMap") or {}
                if (method, path) == ("POST", "/v1.0/im/interactiveCards/send"):
                    fake.check_params(params)
                    if not body.get("cardTemplateId"):
                        self._reply({"code": "card.templateEmpty", "message": "卡片模板ID为空"},
                                    400)  # fmt: skip
                        return
                    if body["cardTemplateId"] != TEMPLATE:
                        self._reply({"code": "cardInstance.wrong",
                                     "message": "创建卡片实例失败,先检查卡片模板是否已发布"},
                                    400)  # fmt: skip
                        return
                    if body.get("robotCode") != APP_KEY or body.get("conversationType") != 0:
                        fake.problems.append(f"robotCode/conversationType {body}")
                    receiver = json.loads(body.get("singleChatReceiver") or "{}").get("userId")
                    if receiver not in USERS:
                        self._reply({"code": "param.userIdNotExist",
                                     "message": "用户 userId 不存在"}, 400)  # fmt: skip
                        return
                    if body.get("outTrackId") in fake.track_ids:
                        self._reply({"code": "duplicateOutTrackId", "message": "重复"}, 400)
                        return
                    fake.track_ids[body["outTrackId"]] = receiver
                    fake.sent.append({"to": receiver, "body": body, "card": params,
                                      "at": time.time()})  # fmt: skip
                    self._reply({"result": {"processQueryKey": secrets.token_hex(12)},
                                 "success": True})  # fmt: skip
                elif (method, path) == ("PUT", "/v1.0/im/interactiveCards"):
                    if body.get("outTrackId") not in fake.track_ids:
                        self._reply({"code": "param.outTrackIdError", "message": "卡片不存在"},
                                    400)  # fmt: skip
                        return
                    fake.check_params(params)
                    fake.updated.append({"to": fake.track_ids[body["outTrackId"]],
                                         "body": body, "card": params})  # fmt: skip
                    self._reply({"success": True, "result": True})
                else:
                    self._reply({"code": "NotFound", "message": "no such API"}, 404)

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self._handle("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def check_params(self, params: dict[str, Any]) -> None:
        """What the card platform refuses in ``cardParamMap``, noted as a problem."""
        if set(params) != VARIABLES:
            self.problems.append(f"variables {sorted(set(params) ^ VARIABLES)}")
        for name, value in params.items():
            if not isinstance(value, str):
                self.problems.append(f"{name} is not a string")

    def expire_tokens(self) -> None:
        """Every token given so far has expired (401 InvalidAuthentication)."""
        self.expired |= self.valid
        self.valid.clear()

    def __enter__(self) -> FakeDingTalk:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def click(track_id: str, userid: str, action: str = "approve") -> str:
    """The plain JSON of a card callback: ``userid`` clicked the button ``action`` on the
    card ``track_id``."""
    content = {"cardPrivateData": {"actionIds": [action], "params": {}}}
    return json.dumps({"outTrackId": track_id, "corpId": "ding9f50b15bccd16741",
                       "userId": userid, "content": json.dumps(content),
                       "type": "actionCallback"})  # fmt: skip


def encrypted_post(
    plain: str,
    *,
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    app_key: str = APP_KEY,
    at_ms: int | None = None,
) -> tuple[str, bytes]:
    """(query string, body) of the POST DingTalk makes to the callback URL with ``plain``."""
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    nonce = secrets.token_hex(4)
    encrypted = msgcrypt.encrypt(plain, aes_key, app_key)
    query = urlencode({"msg_signature": msgcrypt.signature(token, stamp, nonce, encrypted),
                       "timestamp": stamp, "nonce": nonce})  # fmt: skip
    return query, json.dumps({"encrypt": encrypted}).encode()


def success_reply(body: dict[str, str]) -> str:
    """The plain text of an encrypted callback answer, after checking its signature."""
    expected = msgcrypt.signature(TOKEN, body["timeStamp"], body["nonce"], body["encrypt"])
    assert body["msg_signature"] == expected, "the answer's msg_signature does not match"
    return msgcrypt.decrypt(body["encrypt"], AES_KEY, APP_KEY)
