"""The approval card as Feishu's message-card JSON: the order's essentials, why it needs
this person (the node's name and the rule trace in business words), the checks, the SLA
deadline, and the buttons; once decided, the same card saying by whom, without buttons.
The title and the outcome are worded here once for every platform's card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import force_locale, pgettext
from flask_babel import gettext as _

PENDING = "pending"
COLOURS = {"pending": "orange", "approved": "green", "rejected": "red"}


def _md(text: str) -> dict[str, Any]:
    return {"tag": "lark_md", "content": text}


def _field(label: str, value: str) -> dict[str, Any]:
    return {"is_short": True, "text": _md(f"**{label}**\n{value or '—'}")}


def card(values: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The card for one person in ``language`` (``zh`` or ``en``) from :func:`card_values`."""
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        return _card(values)


def _card(v: Mapping[str, Any]) -> dict[str, Any]:
    state = v["state"]
    why = _("Why it needs you")
    because = _("%(node)s: %(reason)s", node=v["node"], reason=v["reason"])
    elements: list[dict[str, Any]] = [
        {
            "tag": "div",
            "fields": [
                _field(_("Customer"), v["customer"]),
                _field(_("Amount"), f"{v['currency']} {v['amount']}".strip()),
                _field(_("Lines"), v["lines"]),
                _field(_("Decide by"), v["due"]),
            ],
        },
        {"tag": "div", "text": _md(f"**{why}**\n{because}")},
    ]
    if v["check_lines"]:
        heading = _(
            "Checks: %(failed)d of %(total)d failed",
            failed=v["checks_failed"],
            total=v["checks_total"],
        )
        elements.append(
            {"tag": "div", "text": _md(f"**{heading}**\n" + "\n".join(v["check_lines"]))}
        )
    elements.append({"tag": "hr"})
    if state == PENDING:
        elements.append(_decide_form(v))
    else:
        elements.append({"tag": "div", "text": _md(outcome(v))})
    if v.get("notice"):
        elements.append(
            {"tag": "note", "elements": [{"tag": "plain_text", "content": v["notice"]}]}
        )
    if v.get("link"):
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": _("View details")},
                        "type": "default",
                        "url": v["link"],
                    }
                ],
            }
        )
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {
            "template": COLOURS.get(state, "grey"),
            "title": {"tag": "plain_text", "content": title(v)},
        },
        "elements": elements,
    }


def _decide_form(v: Mapping[str, Any]) -> dict[str, Any]:
    def button(label: str, decision: str, kind: str) -> dict[str, Any]:
        return {
            "tag": "button",
            "text": {"tag": "plain_text", "content": label},
            "type": kind,
            "action_type": "form_submit",
            "name": decision,
            "value": {"task": v["task_key"], "decision": decision},
        }

    return {
        "tag": "form",
        "name": "decide",
        "elements": [
            {
                "tag": "input",
                "name": "reason",
                "placeholder": {"tag": "plain_text", "content": _("Reason (required to reject)")},
                "max_length": 500,
            },
            {
                "tag": "column_set",
                "columns": [
                    {"tag": "column", "elements": [button(_("Approve"), "approved", "primary")]},
                    {
                        "tag": "column",
                        "elements": [button(pgettext("chat card", "Reject"), "rejected", "danger")],
                    },
                ],
            },
        ],
    }


def title(v: Mapping[str, Any]) -> str:
    """The card's title in the current locale: what the task needs or how it ended."""
    return {
        "pending": _("Approval needed: order %(order)s", order=v["order_id"]),
        "approved": _("Approved: order %(order)s", order=v["order_id"]),
        "rejected": _("Rejected: order %(order)s", order=v["order_id"]),
    }.get(v["state"], _("No longer needs you: order %(order)s", order=v["order_id"]))


def outcome(v: Mapping[str, Any]) -> str:
    """How a task that left ``pending`` ended, by whom, with their comment."""
    state, by, comment = v["state"], v.get("decided_by") or "", v.get("comment") or ""
    if state == "approved":
        text = _("Approved by %(name)s.", name=by)
    elif state == "rejected":
        text = _("Rejected by %(name)s.", name=by)
    elif state == "delegated":
        text = _("Handed over by %(name)s; it no longer needs you.", name=by)
    else:
        text = _("Withdrawn: the order no longer needs this approval.")
    return f"{text}\n{comment}" if comment and state != "withdrawn" else text
