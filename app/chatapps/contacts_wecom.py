"""WeCom's address book as developer.work.weixin.qq.com documents it: the departments
(``department/list``), the people's ids page by page (``user/list_id``, ``cursor`` /
``next_cursor``), and each person (``user/get``: main department, ``direct_leader``, mobile
and email). The app needs the address book in its visible range (可见范围) and, for mobile
and email, the contacts read permission.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from . import wecom
from .contacts import Dept, Directory, Person, Tokens, pages

NAME = wecom.NAME
USER_FIELD = wecom.USER_FIELD
PAGE_SIZE = 1000
# user/get's status: 1 active, 2 disabled, 4 not activated yet, 5 resigned.
GONE = frozenset({2, 5})


def _user(base_url: str, user_id: str, token: str) -> Any:
    return wecom.api(base_url, "user/get", token, {"userid": user_id})


def read(base_url: str, tokens: Tokens) -> Directory:
    """Every department and every person who is not disabled or gone."""
    out = Directory()
    reply = tokens.call(lambda t: wecom.api(base_url, "department/list", t))
    out.calls += 1
    listed = reply.get("department") or []
    known = {str(d.get("id")) for d in listed}
    for item in listed:
        dept_id, parent = str(item.get("id")), str(item.get("parentid") or "")
        out.depts[dept_id] = Dept(dept_id, str(item.get("name") or dept_id),
                                  parent if parent in known and parent != dept_id else None)  # fmt: skip

    def page(cursor: str) -> tuple[list[Any], str | None]:
        body = {"cursor": cursor, "limit": PAGE_SIZE}
        data = tokens.call(lambda t: wecom.api(base_url, "user/list_id", t, body=body))
        out.calls += 1
        return list(data.get("dept_user") or []), str(data.get("next_cursor") or "") or None

    ids = list(dict.fromkeys(str(row.get("userid")) for row in pages(page) if row.get("userid")))
    for user_id in ids:
        item = tokens.call(partial(_user, base_url, user_id))
        out.calls += 1
        if item.get("status") in GONE:
            continue
        depts = [str(d) for d in item.get("department") or ()]
        main = str(item.get("main_department") or (depts[0] if depts else "")) or None
        leaders = [str(x) for x in item.get("direct_leader") or () if x]
        flags = list(item.get("is_leader_in_dept") or ())
        for dept, flag in zip(depts, flags, strict=False):
            if flag == 1:
                out.heads.setdefault(dept, user_id)
        out.people[user_id] = Person(
            id=user_id,
            name=str(item.get("name") or user_id),
            dept=main if main in out.depts else None,
            leader=leaders[0] if leaders else None,
            mobile=str(item.get("mobile") or ""),
            email=str(item.get("email") or item.get("biz_mail") or ""),
        )
    return out
