"""A chat platform's address book as plain data, read by one module per platform
(``contacts_feishu``, ``contacts_wecom``, ``contacts_dingtalk``).

A reader module has ``NAME``, ``USER_FIELD`` (the user's id on the platform) and
``read(base_url, tokens)``, which walks the platform's departments and people page by page
and returns a :class:`Directory`. ``tokens`` gives the access token; a call the platform
refuses with an expired token is made once more with a fresh one (:meth:`Tokens.call`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..runs.outbox import DeliveryError
from .errors import TokenExpiredError

log = logging.getLogger(__name__)

T = TypeVar("T")
# Paging stops here: a platform that keeps answering "more" is not trusted forever.
MAX_PAGES = 10_000


@dataclass(frozen=True)
class Dept:
    """A department: its id on the platform, its name and its parent's id (None: the top)."""

    id: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class Person:
    """A person in the address book: their id, name, main department and direct leader."""

    id: str
    name: str
    dept: str | None
    leader: str | None = None
    mobile: str = ""
    email: str = ""


@dataclass
class Directory:
    """Departments and people as one platform lists them."""

    depts: dict[str, Dept] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)  # department id -> its leader's id
    calls: int = 0  # requests made, pages included


class Tokens:
    """The access token for a sync: ``fetch(fresh)`` gives one (a cached one unless fresh)."""

    def __init__(self, fetch: Callable[[bool], str]) -> None:
        self._fetch = fetch
        self._token: str | None = None
        self.renewed = 0

    def call(self, request: Callable[[str], T]) -> T:
        """``request(token)``; when the token expired (mid-sync too), once more with a new one."""
        if self._token is None:
            self._token = self._fetch(False)
        try:
            return request(self._token)
        except TokenExpiredError:
            log.info("the access token expired during the sync; fetching a new one")
            self._token = self._fetch(True)
            self.renewed += 1
            return request(self._token)


def pages(first: Callable[[str], tuple[list[Any], str | None]]) -> list[Any]:
    """Every item of a paged list: ``first(cursor)`` gives (items, next cursor or None)."""
    out: list[Any] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        items, cursor_next = first(cursor)
        out.extend(items)
        if not cursor_next:
            return out
        cursor = cursor_next
    raise DeliveryError(f"the platform kept paging past {MAX_PAGES} pages", permanent=True)
