"""Message templates: one per channel (the inbox and each channel kind), event and language,
editable by the admin.

Templates are Jinja text rendered in a sandbox (an admin's template cannot reach Python
objects). The defaults below apply until the admin saves a template of their own; resetting
deletes it and the default applies again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFoundError, ValidationError
from ..models import NotificationTemplate, User, utcnow
from .kinds import KINDS, channel_names

EVENTS = (
    "approval_needed",
    "approval_reminder",
    "approval_escalated",
    "approval_delegated",
    "approval_info",
    "approval_cc",
    "approval_mention",
    "flow_message",
)
LANGUAGES = ("zh", "en")

_env = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
_strict = SandboxedEnvironment(
    autoescape=False, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined
)

_ORDER_ZH = "订单 {{ order_id }}{% if customer %}（{{ customer }}）{% endif %}{% if amount %}，{{ currency }} {{ amount }}{% endif %}"
_ORDER_EN = "Order {{ order_id }}{% if customer %} ({{ customer }}){% endif %}{% if amount %}, {{ currency }} {{ amount }}{% endif %}"
_SUBJECTS = {
    ("approval_needed", "zh"): "【待审批】订单 {{ order_id }}",
    ("approval_needed", "en"): "Approval needed: order {{ order_id }}",
    ("approval_reminder", "zh"): "【审批提醒】订单 {{ order_id }} 仍在等您处理",
    ("approval_reminder", "en"): "Reminder: order {{ order_id }} still waits for you",
    ("approval_escalated", "zh"): "【审批升级】订单 {{ order_id }} 超时未处理，转您审批",
    ("approval_escalated", "en"): "Escalated: order {{ order_id }} passed its time limit",
    ("approval_delegated", "zh"): "【转交审批】{{ delegated_by }} 将订单 {{ order_id }} 转交给您",
    ("approval_delegated", "en"): "{{ delegated_by }} handed order {{ order_id }} to you",
    ("approval_info", "zh"): "【需补充信息】{{ by }} 退回了订单 {{ order_id }}，请补充后重新提交",
    ("approval_info", "en"): "{{ by }} sent order {{ order_id }} back to you for more information",
    ("approval_cc", "zh"): "【抄送】订单 {{ order_id }} 的审批抄送给您",
    ("approval_cc", "en"): "For your information: the approval of order {{ order_id }}",
    ("approval_mention", "zh"): "【审批评论】{{ by }} 在订单 {{ order_id }} 的审批中提到了您",
    ("approval_mention", "en"): "{{ by }} mentioned you on the approval of order {{ order_id }}",
    ("flow_message", "zh"): "【OrderFlow】{{ message|truncate(40) }}",
    ("flow_message", "en"): "OrderFlow: {{ message|truncate(60) }}",
}
_TEXT = {
    "zh": (
        "{{ name }}，您好：\n" + _ORDER_ZH + " 需要您审批。\n"
        "{% if reason %}原因：{{ reason }}\n{% endif %}"
        "{% if checks_total %}自动检查：{{ checks_total - checks_failed }}/{{ checks_total }} 项通过\n{% for line in check_lines %}  {{ line }}\n{% endfor %}{% endif %}"
        "{% if due %}请在 {{ due }} 前处理。\n{% endif %}"
        "打开审批：{{ link }}\n"
    ),
    "en": (
        "Hello {{ name }},\n" + _ORDER_EN + " needs your approval.\n"
        "{% if reason %}Why: {{ reason }}\n{% endif %}"
        "{% if checks_total %}Automatic checks: {{ checks_total - checks_failed }} of {{ checks_total }} passed\n{% for line in check_lines %}  {{ line }}\n{% endfor %}{% endif %}"
        "{% if due %}Please decide by {{ due }}.\n{% endif %}"
        "Open the approval: {{ link }}\n"
    ),
}
_MARKDOWN = {
    "zh": (
        "### {{ subject }}\n" + _ORDER_ZH + "\n\n"
        "{% if reason %}> 原因：{{ reason }}\n\n{% endif %}"
        "{% for line in check_lines %}- {{ line }}\n{% endfor %}{% if check_lines %}\n{% endif %}"
        "{% if due %}截止：{{ due }}\n\n{% endif %}"
        "[打开审批]({{ link }})"
    ),
    "en": (
        "### {{ subject }}\n" + _ORDER_EN + "\n\n"
        "{% if reason %}> Why: {{ reason }}\n\n{% endif %}"
        "{% for line in check_lines %}- {{ line }}\n{% endfor %}{% if check_lines %}\n{% endif %}"
        "{% if due %}Due: {{ due }}\n\n{% endif %}"
        "[Open the approval]({{ link }})"
    ),
}
_SHORT = {
    "zh": "【OrderFlow】订单{{ order_id }}待您审批{% if due %}，{{ due }}前处理{% endif %}：{{ link }}",
    "en": "OrderFlow: order {{ order_id }} needs your approval{% if due %} by {{ due }}{% endif %}: {{ link }}",
}
# Messages that ask for no decision: more information (退回), a copy (抄送), a mention.
_READ = {
    "zh": (
        "{{ name }}，您好：\n{{ subject }}\n" + _ORDER_ZH + "\n"
        "{% if message %}{{ by }}：{{ message }}\n{% endif %}"
        "打开审批：{{ link }}\n"
    ),
    "en": (
        "Hello {{ name }},\n{{ subject }}\n" + _ORDER_EN + "\n"
        "{% if message %}{{ by }}: {{ message }}\n{% endif %}"
        "Open the approval: {{ link }}\n"
    ),
}
_READ_SHORT = {
    "zh": "【OrderFlow】{{ subject }}：{{ link }}",
    "en": "OrderFlow: {{ subject }}: {{ link }}",
}
READ_EVENTS = ("approval_info", "approval_cc", "approval_mention")

_FLOW = {
    "zh": "{{ message }}{% if link %}\n{{ link }}{% endif %}",
    "en": "{{ message }}{% if link %}\n{{ link }}{% endif %}",
}


def default_template(kind: str, event: str, language: str) -> tuple[str, str]:
    """The built-in (subject, body) for a channel kind, event and language."""
    subject = _SUBJECTS[(event, language)]
    if event == "flow_message":
        return subject, _FLOW[language]
    style = KINDS[kind].style if kind in KINDS else "text"
    if event in READ_EVENTS:
        return subject, (_READ_SHORT if style == "short" else _READ)[language]
    body = {"markdown": _MARKDOWN, "short": _SHORT}.get(style, _TEXT)[language]
    return subject, body


def _check_key(kind: str, event: str, language: str) -> None:
    if kind not in channel_names() or event not in EVENTS or language not in LANGUAGES:
        raise NotFoundError(_l("There is no such message template."))


def effective(db: Session, kind: str, event: str, language: str) -> tuple[str, str, bool]:
    """(subject, body, customised) for this channel kind, event and language."""
    _check_key(kind, event, language)
    row = db.scalars(
        select(NotificationTemplate).where(
            NotificationTemplate.channel_kind == kind,
            NotificationTemplate.event == event,
            NotificationTemplate.language == language,
        )
    ).one_or_none()
    if row is not None:
        return row.subject, row.body, True
    return (*default_template(kind, event, language), False)


def _sample() -> dict[str, Any]:
    return {
        "name": "李强", "order_id": "TB1001", "customer": "李娜", "amount": "25,000.00",
        "currency": "CNY", "reason": "订单金额超过 20,000", "due": "2026-10-08 18:00",
        "checks_total": 3, "checks_failed": 1, "link": "https://orderflow.example/a/x",
        "delegated_by": "王敏", "by": "王敏", "message": "Order TB1001 is stuck", "subject": "…",
    }  # fmt: skip


def save(
    db: Session, actor: User | None, kind: str, event: str, language: str, subject: str, body: str
) -> NotificationTemplate:
    """Store the admin's template after rendering it once with sample data. No commit."""
    _check_key(kind, event, language)
    for part, text in (("subject", subject), ("body", body)):
        try:
            _strict.from_string(text).render(_sample())
        except TemplateError as err:
            raise ValidationError(
                _l("The template does not work: %(reason)s", reason=str(err)),
                fields={part: "invalid"},
            ) from err
    if not body.strip():
        raise ValidationError(_l("A message needs a body."), fields={"body": "required"})
    row = db.scalars(
        select(NotificationTemplate).where(
            NotificationTemplate.channel_kind == kind,
            NotificationTemplate.event == event,
            NotificationTemplate.language == language,
        )
    ).one_or_none()
    if row is None:
        row = NotificationTemplate(channel_kind=kind, event=event, language=language, body=body)
        db.add(row)
    row.subject, row.body = subject.strip()[:255], body
    row.updated_by, row.updated_at = (actor.username if actor else None), utcnow()
    db.flush()
    return row


def reset(db: Session, kind: str, event: str, language: str) -> None:
    """Go back to the built-in template. No commit."""
    _check_key(kind, event, language)
    for row in db.scalars(
        select(NotificationTemplate).where(
            NotificationTemplate.channel_kind == kind,
            NotificationTemplate.event == event,
            NotificationTemplate.language == language,
        )
    ):
        db.delete(row)
    db.flush()


def render(
    db: Session, kind: str, event: str, language: str, values: Mapping[str, Any]
) -> tuple[str, str]:
    """Render (subject, body); a template that fails at send time falls back to the default."""
    subject_src, body_src, custom = effective(db, kind, event, language)
    try:
        subject = _env.from_string(subject_src).render(values).strip()
        body = _env.from_string(body_src).render({**values, "subject": subject})
    except TemplateError:
        if not custom:
            raise
        subject_src, body_src = default_template(kind, event, language)
        subject = _env.from_string(subject_src).render(values).strip()
        body = _env.from_string(body_src).render({**values, "subject": subject})
    return subject, body.strip()
