"""Alert rules for machines (read only; rules are written on the alert pages, by the CLI or
by template bundles)."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..alerts import services as alerts
from ..db import get_session
from ..models import AlertRule
from ._http import iso, reply
from ._schemas import list_of, ref
from .spec import api, param

RULE_KEY = param("key", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"})


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "key": rule.key, "name": {"zh": rule.name_zh, "en": rule.name_en},
        "description": rule.description, "kind": rule.kind, "definition": rule.definition,
        "severity": rule.severity, "recipients": rule.recipients, "channels": rule.channels,
        "cooldown_seconds": rule.cooldown_seconds, "auto_resolve": rule.auto_resolve,
        "enabled": rule.enabled, "every_seconds": rule.every_seconds, "source": rule.source,
        "actions": {"webhook": (rule.actions or {}).get("webhook"),
                    "start_flows": bool((rule.actions or {}).get("start_flows"))},
        "last_evaluated_at": iso(rule.last_evaluated_at), "last_error": rule.last_error,
    }  # fmt: skip


@api.get(
    "/alert-rules",
    scope="alerts:read",
    summary="Alert rules",
    responses={"200": list_of(ref("AlertRule"))},
)  # fmt: skip
def list_alert_rules() -> Response:
    return reply({"items": [rule_json(r) for r in alerts.list_rules(get_session())]})


@api.get(
    "/alert-rules/<key>",
    scope="alerts:read",
    summary="An alert rule",
    params=[RULE_KEY],
    responses={"200": ref("AlertRule")},
)  # fmt: skip
def get_alert_rule(key: str) -> Response:
    return reply(rule_json(alerts.get_rule(get_session(), key[:64])))
