"""Alert pages: the inbox (open / acknowledged / resolved) with the orders behind each
alert, and the rules supervisors configure, preview and evaluate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from ..db import get_session, reads_only
from ..errors import AppError, ValidationError
from ..models import AlertRule
from ..notifications.kinds import channel_names
from ..pages import partial
from ..security import can, current_user, permission_required
from ..urls import row_id
from . import exchange, services
from .datasets import DATASETS
from .rules import KINDS, MEASURES, OPS, PERIODS, SEVERITIES, SUBJECTS

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
DEFINITION_FIELDS = (
    "condition", "dataset", "measure", "field", "filter", "numerator", "group_by", "window",
    "op", "threshold", "min_rows", "period", "periods", "subject", "states", "flow", "node",
    "longer_than", "min_count", "older_than",
)  # fmt: skip


@bp.app_context_processor
def _header() -> dict[str, Any]:
    def open_alerts() -> int:
        """Open alerts, for the header badge."""
        return services.open_count(get_session())

    return {"open_alerts": open_alerts}


def _checked_form() -> None:
    if not FlaskForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Try again."))


@bp.get("/")
@permission_required("dashboard.view")
def inbox() -> ResponseReturnValue:
    db = get_session()
    filters = services.AlertFilters.from_args(request.args)
    rows, total = services.list_alerts(db, filters)
    template = "alerts/_rows.html" if partial() else "alerts/inbox.html"
    return render_template(
        template,
        rows=rows,
        total=total,
        filters=filters,
        counts=services.counts(db),
        rules=services.list_rules(db),
        page_size=services.PAGE_SIZE,
        form=FlaskForm(),
        can_manage=can("alerts.manage"),
    )


@bp.get("/<id:alert_id>")
@permission_required("dashboard.view")
def detail(alert_id: int) -> ResponseReturnValue:
    db = get_session()
    alert = services.get_alert(db, alert_id)
    rule = db.get(AlertRule, alert.rule_id) if alert.rule_id else None
    return render_template(
        "alerts/detail.html",
        alert=alert,
        rule=rule,
        orders=services.orders_behind(db, alert),
        form=FlaskForm(),
        can_manage=can("alerts.manage"),
    )


@bp.post("/<id:alert_id>/<any(acknowledge, resolve):action>")
@permission_required("alerts.manage")
def change(alert_id: int, action: str) -> ResponseReturnValue:
    _checked_form()
    db = get_session()
    alert = services.get_alert(db, alert_id)
    getattr(services, action)(db, current_user(), alert)
    db.commit()
    flash(_("Alert %(id)s acknowledged.", id=alert_id) if action == "acknowledge"
          else _("Alert %(id)s resolved.", id=alert_id), "success")  # fmt: skip
    return redirect(url_for("alerts.detail", alert_id=alert_id))


@bp.post("/bulk")
@permission_required("alerts.manage")
def bulk() -> ResponseReturnValue:
    _checked_form()
    action = request.form.get("action")
    if action not in ("acknowledge", "resolve"):
        raise ValidationError(_("Choose acknowledge or resolve."))
    db = get_session()
    done = 0
    for raw in request.form.getlist("alert")[:200]:
        alert_id = row_id(raw)
        if alert_id is None:
            continue
        try:
            getattr(services, action)(db, current_user(), services.get_alert(db, alert_id))
            done += 1
        except AppError:
            continue
    db.commit()
    flash(_("%(n)d alerts changed.", n=done), "success")
    return redirect(url_for("alerts.inbox", status=request.form.get("status") or "open"))


# -- rules ---------------------------------------------------------------------------------


def _options() -> dict[str, Any]:
    return {
        "kinds": KINDS, "severities": SEVERITIES, "channels": channel_names(), "measures": MEASURES,
        "ops": OPS, "periods": list(PERIODS), "subjects": SUBJECTS, "datasets": DATASETS,
    }  # fmt: skip


@bp.get("/rules")
@permission_required("dashboard.view")
def rules() -> ResponseReturnValue:
    db = get_session()
    return render_template(
        "alerts/rules.html",
        rules=services.list_rules(db),
        kept=exchange.kept_in_templates(db),
        form=FlaskForm(),
        can_manage=can("alerts.manage"),
    )


@bp.post("/rules/adopt")
@permission_required("alerts.manage")
def rules_adopt() -> ResponseReturnValue:
    """Turn the alert rules that template bundles brought in (kept as data) into rules."""
    _checked_form()
    db = get_session()
    imported = exchange.adopt_kept(db, current_user())
    db.commit()
    held = [i.rule.key for i in imported if i.notes]
    flash(_("%(n)d rules imported from templates.", n=len(imported)), "success")
    if held:
        flash(_("Check and enable these, they could not be translated exactly: %(keys)s",
                keys=", ".join(held)), "error")  # fmt: skip
    return redirect(url_for("alerts.rules"))


def form_values(form: MultiDict[str, str], existing: AlertRule | None = None) -> dict[str, Any]:
    """The rule as :func:`services.save_rule` takes it, from the posted form."""
    definition = {
        name: form.get(f"d_{name}", "").strip() for name in DEFINITION_FIELDS if f"d_{name}" in form
    }
    recipients = []
    for line in form.get("recipients", "").replace(",", "\n").splitlines():
        kind, _sep, who = line.strip().partition(":")
        if who.strip() and kind.strip() in ("user", "role"):
            recipients.append({kind.strip(): who.strip()})
    try:
        cooldown = int(float(form.get("cooldown_minutes") or 60) * 60)
    except ValueError:
        cooldown = -1
    return {
        "key": form.get("key", existing.key if existing else ""),
        "name_zh": form.get("name_zh", ""),
        "name_en": form.get("name_en", ""),
        "description": form.get("description", ""),
        "kind": form.get("kind", existing.kind if existing else ""),
        "definition": definition,
        "severity": form.get("severity", "warning"),
        "recipients": recipients,
        "channels": form.getlist("channels"),
        "cooldown_seconds": cooldown,
        "every_seconds": form.get("every_seconds") or 60,
        "auto_resolve": form.get("auto_resolve") == "on",
        "enabled": form.get("enabled") == "on",
        "actions": {
            "webhook": {"url": form.get("webhook_url", "").strip()},
            "start_flows": form.get("start_flows") == "on",
        },
    }


def _edit_page(rule: AlertRule | None, values: dict[str, Any], errors: dict[str, Any]) -> str:
    return render_template(
        "alerts/rule_form.html",
        rule=rule,
        values=values,
        errors=errors,
        form=FlaskForm(),
        **_options(),
    )


def _blank(kind: str) -> dict[str, Any]:
    return {
        "kind": kind if kind in KINDS else "aggregate",
        "severity": "warning",
        "channels": ["inbox"],
        "recipients": [{"role": "supervisor"}],
        "cooldown_seconds": 3600,
        "every_seconds": 60,
        "auto_resolve": True,
        "enabled": True,
        "definition": {
            "dataset": "orders",
            "measure": "rate",
            "window": "1h",
            "op": ">",
            "threshold": 10,
            "group_by": "channel",
            "numerator": "order.manual",
            "period": "day",
            "periods": 3,
            "subject": "order_status",
            "longer_than": "4h",
        },  # fmt: skip
    }


@bp.route("/rules/new", methods=["GET", "POST"])
@permission_required("alerts.manage")
def rule_new() -> ResponseReturnValue:
    if request.method == "GET":
        return _edit_page(None, _blank(request.args.get("kind", "")), {})
    _checked_form()
    values = form_values(request.form)
    db = get_session()
    try:
        rule = services.save_rule(db, current_user(), values)
    except ValidationError as err:
        db.rollback()
        return _edit_page(None, values, err.fields or {"key": err.message}), 422
    except AppError as err:
        db.rollback()
        return _edit_page(None, values, {"key": err.message}), err.status
    db.commit()
    flash(_("Rule %(key)s saved.", key=rule.key), "success")
    return redirect(url_for("alerts.rules"))


@bp.route("/rules/<key>", methods=["GET", "POST"])
@permission_required("alerts.manage")
def rule_edit(key: str) -> ResponseReturnValue:
    db = get_session()
    rule = services.get_rule(db, key)
    if request.method == "GET":
        values = {c: getattr(rule, c) for c in ("key", "name_zh", "name_en", "description", "kind",
                  "definition", "severity", "recipients", "channels", "cooldown_seconds",
                  "every_seconds", "auto_resolve", "enabled", "actions")}  # fmt: skip
        return _edit_page(rule, values, {})
    _checked_form()
    values = form_values(request.form, rule)
    try:
        services.save_rule(db, current_user(), values, existing=rule)
    except AppError as err:
        db.rollback()
        fields = getattr(err, "fields", None) or {"key": err.message}
        return _edit_page(services.get_rule(db, key), values, fields), err.status
    db.commit()
    flash(_("Rule %(key)s saved.", key=rule.key), "success")
    return redirect(url_for("alerts.rules"))


@bp.post("/rules/<key>/delete")
@permission_required("alerts.manage")
def rule_delete(key: str) -> ResponseReturnValue:
    _checked_form()
    db = get_session()
    services.delete_rule(db, services.get_rule(db, key))
    db.commit()
    flash(_("Rule %(key)s removed.", key=key), "success")
    return redirect(url_for("alerts.rules"))


@bp.post("/rules/<key>/evaluate")
@permission_required("alerts.manage")
def rule_evaluate(key: str) -> ResponseReturnValue:
    _checked_form()
    db = get_session()
    changes = services.evaluate_rule(db, services.get_rule(db, key))
    db.commit()
    flash(_("Evaluated: %(o)d opened, %(u)d still open, %(r)d resolved.", o=len(changes.opened)
            + len(changes.reopened), u=len(changes.updated), r=len(changes.resolved)), "success")  # fmt: skip
    return redirect(url_for("alerts.rules"))


@bp.post("/rules/preview")
@reads_only
@permission_required("alerts.manage")
def rule_preview() -> ResponseReturnValue:
    """What the rule in the form would find now (htmx fragment), without raising alerts."""
    _checked_form()
    values = form_values(request.form)
    db = get_session()
    try:
        outcome = services.preview(db, values)
    except ValidationError as err:
        return render_template("alerts/_preview.html", errors=err.fields, outcome=None), 200
    return render_template("alerts/_preview.html", errors={}, outcome=outcome, values=values)
