"""A DingTalk open platform on loopback, as open.dingtalk.com documents an internal app:
the new API's ``oauth2/accessToken``, sending an interactive card to one person
(``im/interactiveCards/send``), updating it (``PUT im/interactiveCards``) and registering the
URL of a card callback route (``card/callbacks/register``), each checking the
``x-acs-dingtalk-access-token`` header (401 ``InvalidAuthentication`` once it expired); and
the platform's side of a card button click: the documented card callback JSON, posted over
HTTP to the URL registered for the card's ``callbackRouteKey`` (``click``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

APP_KEY, APP_SECRET = "ding6ccabc44d2c8d38b", "app-secret-1"
# The corpId of the card callback sample in open-dingtalk/dingtalk-stream-sdk-python.
CORP_ID = "ding9f50b15bccd16741"
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
        self.routes: dict[str, dict[str, Any]] = {}  # callbackRouteKey -> registration
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
                if (method, path) == ("POST", "/v1.0/card/callbacks/register"):
                    self._register(body)
                elif (method, path) == ("POST", "/v1.0/im/interactiveCards/send"):
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
                    if body.get("callbackRouteKey") not in fake.routes:
                        fake.problems.append(
                            f"no URL registered for {body.get('callbackRouteKey')}"
                        )
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

            def _register(self, body: dict[str, Any]) -> None:
                key, url = body.get("callbackRouteKey"), str(body.get("callbackUrl") or "")
                if not key or not url.startswith(("https://", "http://")):
                    self._reply({"code": "invalidParameter",
                                 "message": "callbackRouteKey 或 callbackUrl 无效"}, 400)  # fmt: skip
                    return
                if key in fake.routes and body.get("forceUpdate") is not True:
                    self._reply({"code": "invalidParameter",
                                 "message": "callbackRouteKey 已注册"}, 400)  # fmt: skip
                    return
                fake.routes[key] = body
                self._reply({"success": True, "result": {"apiSecret": body.get("apiSecret"),
                                                         "callbackUrl": url}})  # fmt: skip

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

    def click(self, track_id: str, userid: str, action: str = "approve",
              corp_id: str = CORP_ID) -> tuple[int, dict[str, Any]]:  # fmt: skip
        """``userid`` clicks ``action`` on the card ``track_id``: the callback posted to the URL
        registered for the card's route (the only route, for a card DingTalk does not know)."""
        sent = [s["body"] for s in self.sent if s["body"]["outTrackId"] == track_id]
        (route,) = [sent[0]["callbackRouteKey"]] if sent else list(self.routes)
        url = self.routes[route]["callbackUrl"]
        return post(url, callback(track_id, userid, action, corp_id))

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


def callback(track_id: str, userid: str, action: str = "approve", corp_id: str = CORP_ID) -> bytes:
    """The JSON DingTalk posts when ``userid`` clicks the button ``action`` on the card
    ``track_id``, as the card callback sample of open-dingtalk/dingtalk-stream-sdk-python."""
    content = json.dumps({"cardPrivateData": {"actionIds": [action], "params": {}}})
    return json.dumps({"extension": "{}", "corpId": corp_id, "spaceType": "", "userIdType": 1,
                       "type": "actionCallback", "userId": userid, "content": content,
                       "spaceId": "", "outTrackId": track_id, "value": content}).encode()  # fmt: skip


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to ``url`` as DingTalk does: (status, the answer's JSON, or its text)."""
    request = Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=10) as answer:  # noqa: S310 (a loopback test URL)
            status, raw = answer.status, answer.read()
    except HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, {"text": raw.decode(errors="replace")}
