"""DingTalk's address book as open.dingtalk.com documents its server API (oapi): the app's
access token (``gettoken`` with the AppKey and AppSecret), the sub-departments of each
department from the root (``topapi/v2/department/listsub``), and the people of each
department page by page (``topapi/v2/user/list``, ``cursor`` / ``has_more`` /
``next_cursor``), each with ``manager_userid``. The app needs the contacts read permissions
(通讯录个人信息读权限, 成员信息读权限, 部门信息读权限).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import urlencode

from ..runs.outbox import DeliveryError, send_http
from .contacts import Dept, Directory, Person, Tokens, pages
from .errors import TokenExpiredError

NAME = "dingtalk"
USER_FIELD = "dingtalk_id"
DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
# The connected app's setting that gets an access token with its AppKey (the app id).
CREDENTIAL = "app_secret"
# Where the cards go (the new API); the address book is on the server API (oapi).
CARDS_API = "https://api.dingtalk.com"
ROOT = "1"
PAGE_SIZE = 100
# "Invalid" and "expired" access token: fetch a new one and try once more.
TOKEN_CODES = frozenset({40014, 42001, 88})


def _call(url: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
    status, raw = send_http(url, data, headers, method="POST" if body is not None else "GET",
                            who="DingTalk")  # fmt: skip
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or "errcode" not in reply:
        raise DeliveryError(f"HTTP {status} from DingTalk: {raw[:200]!r}", permanent=True)
    code = reply["errcode"]
    if code in TOKEN_CODES:
        raise TokenExpiredError(f"DingTalk refused the access token: {code} {reply.get('errmsg')}")
    if code != 0:
        raise DeliveryError(f"DingTalk refused the request: {code} {reply.get('errmsg')}",
                            permanent=code != -1, status=status)  # fmt: skip
    return reply


def contacts_base(cards_base_url: str) -> str:
    """The address book's API address for a connected app whose cards go to
    ``cards_base_url``: the server API beside DingTalk's card API, else the same address (a
    proxy in front of both)."""
    return DEFAULT_BASE_URL if cards_base_url.rstrip("/") == CARDS_API else cards_base_url


def fetch_token(base_url: str, app_key: str, app_secret: str) -> tuple[str, int]:
    """A new ``access_token`` and its lifetime in seconds."""
    query = urlencode({"appkey": app_key, "appsecret": app_secret})
    reply = _call(f"{base_url}/gettoken?{query}", None)
    token = reply.get("access_token")
    if not token:
        raise DeliveryError("DingTalk gave no access_token", permanent=True)
    return str(token), int(reply.get("expires_in") or 7200)


def _post(base_url: str, path: str, token: str, body: Mapping[str, Any]) -> Any:
    url = f"{base_url}/topapi/v2/{path}?{urlencode({'access_token': token})}"
    return _call(url, body).get("result")


def read(base_url: str, tokens: Tokens) -> Directory:
    """Every department under the root and every active person."""
    out = Directory()
    todo = [ROOT]
    while todo:
        parent = todo.pop(0)
        body = {"dept_id": int(parent), "language": "zh_CN"}
        found = tokens.call(partial(_post, base_url, "department/listsub", body=body))
        out.calls += 1
        for item in found or []:
            dept_id = str(item.get("dept_id"))
            if dept_id in out.depts:
                continue
            out.depts[dept_id] = Dept(dept_id, str(item.get("name") or dept_id),
                                      None if parent == ROOT else parent)  # fmt: skip
            todo.append(dept_id)
    for dept_id in [ROOT, *out.depts]:

        def page(cursor: str, d: str = dept_id) -> tuple[list[Any], str | None]:
            body = {"dept_id": int(d), "cursor": int(cursor or 0), "size": PAGE_SIZE}
            result = tokens.call(lambda t: _post(base_url, "user/list", t, body)) or {}
            out.calls += 1
            more = result.get("has_more") and result.get("next_cursor") is not None
            return list(result.get("list") or []), str(result["next_cursor"]) if more else None

        for item in pages(page):
            person_id = str(item.get("userid") or "")
            if item.get("leader") and person_id:  # the leader of the department listed
                out.heads.setdefault(dept_id, person_id)
            if not person_id or person_id in out.people or item.get("active") is False:
                continue
            depts = [str(d) for d in item.get("dept_id_list") or () if str(d) in out.depts]
            out.people[person_id] = Person(
                id=person_id,
                name=str(item.get("name") or person_id),
                dept=depts[0] if depts else (None if dept_id == ROOT else dept_id),
                leader=str(item.get("manager_userid") or "") or None,
                mobile=str(item.get("mobile") or ""),
                email=str(item.get("email") or item.get("org_email") or ""),
            )
    return out
