"""Notification channel kinds: one declaration per kind, registered in :data:`KINDS`.

A kind is a :class:`ChannelKind` declared in one module (``mail``, ``wecom``, ``dingtalk``,
``feishu``, ``sms``): its settings, its sender, the user attributes it reaches people at and
its names. Everything else reads the registry: the admin's channel form and its validation,
the fan-out's address lookup and each part's delivery, the message templates, the channels
an alert rule or a flow's notify node may name (the engine's schema and the editor's form),
and the channel names on pages. ``inbox`` (in-app notifications) is always there and is not a
kind: it has no settings and sends nothing.

A new kind is one module with its ``KIND``, entered in :data:`KINDS` below, or registered at
run time with :func:`register_channel_kind` (docs/approvals.md, "Adding a channel kind").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from flow_engine import set_notify_channels

from ...i18n import CODE_LABELS
from ...runs import outbox
from . import dingtalk, feishu, mail, sms, wecom
from .base import NAME_RE, PERSON_FIELDS, ChannelKind, PersonField, Setting

INBOX = "inbox"
INBOX_TITLE = {"en": "in-app", "zh": "站内通知"}

KINDS: dict[str, ChannelKind] = {
    kind.name: kind for kind in (mail.KIND, wecom.KIND, dingtalk.KIND, feishu.KIND, sms.KIND)
}


def channel_names() -> tuple[str, ...]:
    """Every channel a message may name: the inbox, then each kind in registry order."""
    return (INBOX, *KINDS)


def channel_titles() -> dict[str, Mapping[str, str]]:
    """Every channel's ``{"en", "zh"}`` name, by channel name."""
    return {INBOX: INBOX_TITLE, **{name: kind.title for name, kind in KINDS.items()}}


def announce() -> None:
    """Tell the layers below which channels there are: the flow engine's notify node (its
    schema and the editor's form) and the channel names pages show (``code_label``)."""
    titles = channel_titles()
    set_notify_channels({name: title["zh"] for name, title in titles.items()})
    labels = CODE_LABELS["channel"]
    for gone in set(labels) - set(titles):
        del labels[gone]
    labels.update(titles)


def _problems(kind: ChannelKind) -> list[str]:
    problems = []
    if not re.match(NAME_RE, kind.name) or kind.name == INBOX:
        problems.append(f"name {kind.name!r} is not a lowercase name like 'pager'")
    elif kind.name in KINDS:
        problems.append(f"name {kind.name!r} is registered already")
    if not (kind.title.get("en") and kind.title.get("zh")):
        problems.append("title needs both 'en' and 'zh'")
    if not kind.address:
        problems.append("address names no user attribute")
    unknown = [a for a in kind.address.values() if a != "email" and a not in PERSON_FIELDS]
    if unknown:
        problems.append(f"address reads unknown user attributes {unknown}")
    names = [s.name for s in kind.settings]
    if len(set(names)) != len(names) or "personal_links" in names:
        problems.append("settings repeat a name or use 'personal_links'")
    if kind.style not in ("text", "markdown", "short"):
        problems.append(f"style {kind.style!r} is not text, markdown or short")
    return problems


def register_channel_kind(kind: ChannelKind) -> None:
    """Add a channel kind after the built-in ones. ValueError when it lacks what the pages,
    the fan-out and the engine need."""
    problems = _problems(kind)
    if problems:
        raise ValueError(f"channel kind {kind.name!r}: " + "; ".join(problems))
    KINDS[kind.name] = kind
    announce()


def unregister_channel_kind(name: str) -> None:
    """Remove a kind; channels of that kind stay stored but send nothing until it is back."""
    KINDS.pop(name, None)
    announce()


def check_destinations(db: Session, kind: ChannelKind, config: Mapping[str, Any]) -> None:
    """Before a send: each address a channel of ``kind`` posts to must be on the outbound
    allowlist now (DeliveryError otherwise)."""
    for name in kind.urls:
        outbox.check_destination(db, config.get(name))


__all__ = [
    "INBOX",
    "KINDS",
    "ChannelKind",
    "PersonField",
    "PERSON_FIELDS",
    "Setting",
    "announce",
    "channel_names",
    "channel_titles",
    "register_channel_kind",
    "check_destinations",
    "unregister_channel_kind",
]
