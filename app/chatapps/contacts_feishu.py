"""Feishu's address book as open.feishu.cn documents contact/v3: every department under the
root (``departments/0/children`` with ``fetch_child``), then the people of each department
(``users/find_by_department``), both paged with ``page_token`` / ``has_more``. Ids are open
ids (``ou_…``) and open department ids (``od-…``); the app needs the contacts read scopes.
"""

from __future__ import annotations

from typing import Any

from . import feishu
from .contacts import Dept, Directory, Person, Tokens, pages

NAME = feishu.NAME
USER_FIELD = feishu.USER_FIELD
ROOT = "0"
PAGE_SIZE = 50
IDS = {"department_id_type": "open_department_id", "user_id_type": "open_id"}


def _paged(base_url: str, tokens: Tokens, path: str, query: dict[str, Any], out: Directory
           ) -> list[dict[str, Any]]:  # fmt: skip
    def page(cursor: str) -> tuple[list[Any], str | None]:
        wanted = {**IDS, **query, "page_size": PAGE_SIZE} | (
            {"page_token": cursor} if cursor else {}
        )
        data = tokens.call(lambda t: feishu.get(base_url, path, wanted, t))
        out.calls += 1
        more = data.get("has_more") and data.get("page_token")
        return list(data.get("items") or []), str(more) if more else None

    return pages(page)


def read(base_url: str, tokens: Tokens) -> Directory:
    """Every department and every active person of the tenant."""
    out = Directory()
    path = f"contact/v3/departments/{ROOT}/children"
    for item in _paged(base_url, tokens, path, {"fetch_child": "true"}, out):
        dept_id = str(item.get("open_department_id") or "")
        if not dept_id:
            continue
        parent = str(item.get("parent_department_id") or ROOT)
        out.depts[dept_id] = Dept(dept_id, str(item.get("name") or dept_id),
                                  None if parent == ROOT else parent)  # fmt: skip
        if item.get("leader_user_id"):
            out.heads[dept_id] = str(item["leader_user_id"])
    for dept_id in [ROOT, *out.depts]:
        query = {"department_id": dept_id}
        for item in _paged(base_url, tokens, "contact/v3/users/find_by_department", query, out):
            person_id = str(item.get("open_id") or "")
            status = item.get("status") or {}
            if not person_id or person_id in out.people or status.get("is_resigned"):
                continue
            depts = [str(d) for d in item.get("department_ids") or () if str(d) in out.depts]
            out.people[person_id] = Person(
                id=person_id,
                name=str(item.get("name") or person_id),
                dept=depts[0] if depts else (None if dept_id == ROOT else dept_id),
                leader=str(item.get("leader_user_id") or "") or None,
                mobile=str(item.get("mobile") or ""),
                email=str(item.get("email") or item.get("enterprise_email") or ""),
            )
    return out
