"""The approval card as Feishu's message-card JSON: the order's essentials, why it needs
this person (the node's name and the rule trace in business words), the checks, the SLA
deadline, and the buttons; once decided, the same card saying by whom, without buttons.
An SLA reminder shows the time left with the buttons kept; an escalated or timed-out task
says so without buttons. The title and the outcome are worded here once for every
platform's card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import force_locale, ngettext, pgettext
from flask_babel import gettext as _

PENDING = "pending"
# What a card shows besides the task's own states: a task withdrawn because it escalated or
# because its time limit passed (decided automatically, or left to the flow's timeout path).
ESCALATED, TIMED_OUT = "escalated", "timed_out"
COLOURS = {"pending": "orange", "approved": "green", "rejected": "red", ESCALATED: "purple"}
# A reminder's header stands out from the card it replaces.
REMINDER_COLOUR = "red"


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
            "template": REMINDER_COLOUR if v.get("left") else COLOURS.get(state, "grey"),
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


def time_left(seconds: float) -> str:
    """The time left before a deadline in business words, e.g. 还剩 3 小时 / 3 hours left."""
    if seconds <= 0:
        return _("The time limit has passed.")
    minutes = -(-int(seconds) // 60)  # a part of a minute counts as one
    hours, rest = divmod(minutes, 60)
    if not hours:
        return ngettext("%(num)d minute left", "%(num)d minutes left", rest)
    if not rest:
        return ngettext("%(num)d hour left", "%(num)d hours left", hours)
    return _("%(hours)d h %(minutes)d min left", hours=hours, minutes=rest)


def title(v: Mapping[str, Any]) -> str:
    """The card's title in the current locale: what the task needs or how it ended."""
    if v["state"] == PENDING and v.get("left"):
        return _("Reminder: order %(order)s, %(left)s", order=v["order_id"], left=v["left"])
    return {
        "pending": _("Approval needed: order %(order)s", order=v["order_id"]),
        "approved": _("Approved: order %(order)s", order=v["order_id"]),
        "rejected": _("Rejected: order %(order)s", order=v["order_id"]),
        ESCALATED: _("Escalated: order %(order)s", order=v["order_id"]),
        TIMED_OUT: _("Time limit passed: order %(order)s", order=v["order_id"]),
        "superseded": _("Sent again: order %(order)s", order=v["order_id"]),
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
    elif state == ESCALATED:
        text = _("Escalated to %(name)s; it no longer needs you.", name=v.get("escalated_to"))
    elif state == TIMED_OUT:
        text = {
            "approved": _("The time limit passed: approved automatically."),
            "rejected": _("The time limit passed: rejected automatically."),
        }.get(v.get("auto") or "", _("The time limit passed without a decision."))
    elif state == "superseded":
        text = _("A reminder was sent as a new card: decide there.")
    else:
        text = _("Withdrawn: the order no longer needs this approval.")
    # A withdrawn task's comment is the engine's reason (escalated, timeout), not a person's.
    shown = comment and state not in ("withdrawn", ESCALATED, TIMED_OUT, "superseded")
    return f"{text}\n{comment}" if shown else text
