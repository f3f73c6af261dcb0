"""One valid request for every write endpoint (POST, PUT, PATCH, DELETE) of the app.

``REQUESTS`` maps each endpoint name of the URL map to a function building the request from
the :class:`World` the test prepared and a number unique to the call (so that repeated calls
create new objects where the endpoint creates one). The concurrency tests fail when an
endpoint is added without an entry here.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.channels import services as channels
from app.db import in_transaction
from app.models import ApiKey, ApprovalTask, Channel, User
from app.notifications import links
from app.notifications import services as notifications
from app.org import services as org
from app.reference import services as reference
from app.security import API_SCOPES
from app.subscriptions import create_subscription
from app.users import services as users

from .approvals.helpers import approval_doc
from .flows_fixtures import flow_doc, order_doc, publish

Request = tuple[str, str, dict[str, Any]]  # method, path, test client keyword arguments
API = "/api/v1"


@dataclass
class World:
    """What the write requests refer to: users, a key, a flow with approval tasks, ..."""

    admins: list[str]
    api_key: str
    channel_secret: str
    task_keys: list[str]
    links: list[str]
    notification_channel: int
    ids: dict[str, int] = field(default_factory=dict)


def build_world(app: Any, database: Any, threads: int) -> World:
    """Admins ``admin0``… (one per thread), an API key, a published approval flow with one
    task per thread, an inbound channel, a notification channel, a reference table."""
    admins = [f"admin{i}" for i in range(threads)]
    doc = approval_doc("concurrency", assignees=[{"user": name} for name in admins], mode="any")

    def setup(db: Any) -> tuple[str, str, int]:
        for name in admins:
            users.create_user(db, None, username=name, password="correct-horse", roles=["admin"],
                              email=f"{name}@example.com")  # fmt: skip
        users.create_user(db, None, username="victim", password="correct-horse", roles=["viewer"])
        owner = db.scalars(select(User).where(User.username == admins[0])).one()
        _, key = users.create_api_key(db, owner, name="writers", scopes=API_SCOPES)
        users.create_api_key(db, owner, name="to-revoke", scopes=API_SCOPES)
        publish(db, doc)
        publish(db, flow_doc("plain", [{"id": "start", "type": "start"},
                                       {"id": "end", "type": "end", "config": {"outcome": "ok"}}],
                             [("start", "end")]))  # fmt: skip
        secret = channels.create_channel(
            db, None, key="shop", kind="shopify", order_channel="shopify"
        ).secret
        channels.create_channel(db, None, key="tb", kind="taobao_pull", order_channel="taobao")
        channel_id = notifications.save_channel(
            db, None, channel_id=None, name="robot", kind="dingtalk", enabled=True,
            events=("approval_needed",),
            settings={"webhook_url": "http://127.0.0.1:9/robot", "secret": "S3cret"},
        ).id  # fmt: skip
        for name in ("carriers", "customers"):
            reference.ensure_table(db, name, key_field="code")
        org.create_department(db, None, key="hq", name_zh="总部")
        org.create_role(db, None, key="finance", name_zh="财务")
        victim = db.scalars(select(User).where(User.username == "victim")).one()
        hooks = [create_subscription(db, None, {"name": name, "url": "http://127.0.0.1:9/hook",
                                                "events": ["order.status_changed"]}).id
                 for name in ("kept", "deleted")]  # fmt: skip
        return key, secret, channel_id, {"victim": victim.id, "api_key": _key_id(db, "to-revoke"),
                                         "channel": _channel_id(db, "shop"),
                                         "pull": _channel_id(db, "tb"),
                                         "subscription": hooks[0],
                                         "deleted_subscription": hooks[1]}  # fmt: skip

    key, secret, channel_id, ids = in_transaction(database, setup)
    from app.orders import services as orders

    for i in range(threads):
        in_transaction(database, lambda db, i=i: orders.ingest(db, order_doc(f"W{i}", "25000")))
    with database.session() as db:
        tasks = db.execute(
            select(ApprovalTask.task_key, ApprovalTask.assignee).order_by(ApprovalTask.id)
        ).all()
    task_keys = [key for key, _ in tasks]
    with app.app_context():
        issued = [
            in_transaction(database, lambda db, t=t, n=n: links.issue(db, app, t, n))
            for t, n in tasks
        ]
    tokens = [url.rsplit("/approvals/link/", 1)[1].split("/")[0] for url in issued]
    return World(admins, key, secret, task_keys, tokens, channel_id, ids)


def _key_id(db: Any, name: str) -> int:
    return db.scalars(select(ApiKey.id).where(ApiKey.name == name)).one()


def _channel_id(db: Any, key: str) -> int:
    return db.scalars(select(Channel.id).where(Channel.key == key)).one()


def _form(path: str, **data: Any) -> Request:
    return "POST", path, {"data": data}


def _api(method: str, path: str, world: World, **kw: Any) -> Request:
    headers = {"Authorization": f"Bearer {world.api_key}", **kw.pop("headers", {})}
    return method, API + path, {"headers": headers, **kw}


def _webhook(world: World, n: int) -> Request:
    body = json.dumps({
        "id": 900000 + n, "name": f"#{n}", "created_at": "2026-11-20T10:00:00-05:00",
        "currency": "USD", "total_price": "19.00",
        "customer": {"id": 7, "first_name": "Ada", "last_name": "Lovelace"},
        "line_items": [{"sku": "SKU-1", "quantity": 1, "price": "19.00", "title": "Mug"}],
        "shipping_address": {"country_code": "US", "province": "NY", "city": "New York"},
    }).encode()  # fmt: skip
    signature = channels.sign(world.channel_secret, int(time.time()), body)
    headers = {"X-OrderFlow-Signature": signature}
    return "POST", f"{API}/channels/shop/webhook", {"data": body, "headers": headers,
                                                     "content_type": "application/json"}  # fmt: skip


def _bundle_zip() -> bytes:
    from templates_lib.loader import BUNDLES_DIR

    buffer = io.BytesIO()
    root = BUNDLES_DIR / "large-order-finance-review"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _upload(path: str) -> Callable[[World, int], Request]:
    def build(_world: World, _n: int) -> Request:
        data = {"bundle": (io.BytesIO(_bundle_zip()), "bundle.zip"), "create_fields": "1"}
        return "POST", path, {"data": data, "content_type": "multipart/form-data"}

    return build


def _order_json(n: int, prefix: str = "API") -> str:
    import simplejson

    return simplejson.dumps(order_doc(f"{prefix}{n}", "120.00"), use_decimal=True)


def _draft(key: str) -> dict[str, Any]:
    return flow_doc(key, [{"id": "start", "type": "start"},
                          {"id": "end", "type": "end", "config": {"outcome": "ok"}}],
                    [("start", "end")])  # fmt: skip


TABLE = {"key_field": "code", "columns": [{"name": "code", "type": "string"},
                                          {"name": "cost", "type": "number"}]}  # fmt: skip
ALERT_RULE = {
    "name_zh": "大订单", "name_en": "Large orders", "kind": "aggregate", "severity": "warning",
    "d_dataset": "orders", "d_measure": "count", "d_group_by": "channel", "d_window": "1d",
    "d_op": ">", "d_threshold": "30", "d_min_rows": "1", "recipients": "role:supervisor",
    "channels": ["inbox"], "cooldown_minutes": "30", "every_seconds": "60", "enabled": "on",
}  # fmt: skip

Builder = Callable[[World, int], Request]
# fmt: off
REQUESTS: dict[str, Builder] = {
    # pages (signed-in admin; CSRF is switched off for the test app)
    "auth.login": lambda w, n: _form("/login", username="victim", password=f"wrong-{n}"),
    "auth.logout": lambda w, n: _form("/logout"),
    "auth.language": lambda w, n: _form("/language", lang="en", next="/"),
    "auth.account": lambda w, n: _form("/account", **{"lang-locale": "zh"}),
    "admin.users": lambda w, n: _form("/admin/users", username=f"user{n}", display_name="U",
                                      email="", password="correct-horse-9", locale="zh",
                                      roles=["viewer"]),
    "admin.set_roles": lambda w, n: _form(f"/admin/users/{w.ids['victim']}/roles",
                                          roles=["viewer"]),
    "subscriptions_admin.create": lambda w, n: _form(
        "/admin/outbox/subscriptions/", name=f"erp-{n}", url="http://127.0.0.1:9/hook",
        events=["order.created"]),
    "subscriptions_admin.update": lambda w, n: _form(
        f"/admin/outbox/subscriptions/{w.ids['subscription']}", name=f"kept-{n}",
        url="http://127.0.0.1:9/hook", events=["order.status_changed"]),
    "subscriptions_admin.toggle": lambda w, n: _form(
        f"/admin/outbox/subscriptions/{w.ids['subscription']}/toggle"),
    "subscriptions_admin.secret": lambda w, n: _form(
        f"/admin/outbox/subscriptions/{w.ids['subscription']}/secret", own="1"),
    "subscriptions_admin.delete": lambda w, n: _form(
        f"/admin/outbox/subscriptions/{w.ids['deleted_subscription']}/delete"),
    "subscriptions_admin.replay": lambda w, n: _form(
        f"/admin/outbox/subscriptions/{w.ids['subscription']}/replay/{n + 1}"),
    "admin.set_active": lambda w, n: _form(f"/admin/users/{w.ids['victim']}/active", active="1"),
    "admin.sign_out_everywhere": lambda w, n: _form(f"/admin/users/{w.ids['victim']}/sign-out"),
    "admin.api_keys": lambda w, n: _form("/admin/api-keys", name=f"key-{n}",
                                         scopes=["orders:read"]),
    "admin.revoke_api_key": lambda w, n: _form(f"/admin/api-keys/{w.ids['api_key']}/revoke"),
    "calendar.add_day": lambda w, n: _form("/admin/calendar/days", date=f"2027-01-{n % 28 + 1:02d}",
                                           type="holiday", name="盘点"),
    "calendar.remove_day": lambda w, n: _form(f"/admin/calendar/days/2027-01-{n % 28 + 1:02d}/delete"),
    "calendar.seed": lambda w, n: _form("/admin/calendar/seed?year=2026"),
    "calendar.save_settings": lambda w, n: _form("/admin/calendar/settings", timezone="Asia/Shanghai",
                                                 work_start="09:00", work_end="18:00",
                                                 workdays=["0", "1", "2", "3", "4"]),
    "notifications.save_channel": lambda w, n: _form("/admin/notifications/channels",
                                                     name=f"robot-{n}", kind="dingtalk", enabled="1",
                                                     webhook_url="http://127.0.0.1:9/r", secret="S3cret",
                                                     events=["approval_needed"]),
    "notifications.delete_channel": lambda w, n: _form(
        f"/admin/notifications/channels/{w.notification_channel}/delete"),
    "notifications.test_channel": lambda w, n: _form(
        f"/admin/notifications/channels/{w.notification_channel}/test"),
    "notifications.person": lambda w, n: _form(f"/admin/notifications/people/{w.ids['victim']}",
                                               phone="138-0013-8000"),
    "notifications.save_template": lambda w, n: _form("/admin/notifications/templates",
                                                      event="approval_needed", action="reset"),
    "notifications.contact": lambda w, n: _form("/notifications/contact", phone="138-0013-8000"),
    "notifications.read": lambda w, n: _form("/notifications/read"),
    "outbox_admin.replay": lambda w, n: _form("/admin/outbox/1/replay"),
    "outbox_admin.replay_delivery": lambda w, n: _form(f"/admin/outbox/deliveries/{n}/replay"),
    "outbox_admin.dismiss_delivery": lambda w, n: _form(f"/admin/outbox/deliveries/{n}/dismiss"),
    "outbox_admin.add_channel": lambda w, n: _form("/admin/outbox/channels", key=f"dy-{n}",
                                                   name="抖音", kind="douyin", order_channel="douyin"),
    "outbox_admin.channel_mapping": lambda w, n: _form(
        f"/admin/outbox/channels/{w.ids['channel']}/mapping", mapping="{}"),
    "outbox_admin.replay_held": lambda w, n: _form(
        f"/admin/outbox/channels/{w.ids['channel']}/replay-held"),
    "outbox_admin.pull_credentials": lambda w, n: _form(
        f"/admin/outbox/pulls/{w.ids['pull']}/credentials", app_key="12345678",
        app_secret=f"secret-{n}", session=f"session-{n}", api_url="http://127.0.0.1:9/router/rest",
        interval="300"),
    "outbox_admin.pull_sync": lambda w, n: _form(f"/admin/outbox/pulls/{w.ids['pull']}/sync"),
    "chatapps.save": lambda w, n: _form("/admin/chat-apps/feishu", app_id="cli_writers",
                                        app_secret=f"secret-{n}", verification_token="vtoken",
                                        encrypt_key="ekey", base_url="http://127.0.0.1:9"),
    "chatapps.test": lambda w, n: _form("/admin/chat-apps/feishu/test"),
    # The app's address book is unreachable here: a dry run and an apply are refused, saying why.
    "chatapps.org_sync_dry_run": lambda w, n: _form("/admin/chat-apps/feishu/org-sync/dry-run"),
    "chatapps.org_sync_apply": lambda w, n: _form("/admin/chat-apps/feishu/org-sync/apply"),
    "chatapps.org_sync_link": lambda w, n: _form("/admin/chat-apps/feishu/org-sync/link",
                                                 person=f"ou_{n}", username="root"),
    "chatapps.org_sync_schedule": lambda w, n: _form("/admin/chat-apps/feishu/org-sync/schedule",
                                                     nightly=str(n % 2)),
    "chat_hooks.callback": lambda w, n: ("POST", "/hooks/chat/feishu/cli_writers", {"json": {
        "type": "url_verification", "challenge": f"c{n}", "token": "vtoken"}}),
    # A DingTalk card click for an app nobody connected: refused before anything is read.
    "chat_hooks.dingtalk_card": lambda w, n: ("POST", f"/hooks/chat/dingtalk/ding{n}/cards/k{n}", {
        "json": {"type": "actionCallback", "outTrackId": f"t{n}", "userId": "u"}}),
    "outbox_admin.toggle_channel": lambda w, n: _form(
        f"/admin/outbox/channels/{w.ids['channel']}/toggle"),
    "outbox_admin.add_host": lambda w, n: _form("/admin/outbox/hosts", host=f"h{n}.example.com",
                                                note="ERP"),
    "outbox_admin.remove_host": lambda w, n: _form(f"/admin/outbox/hosts/{n}/delete"),
    "outbox_admin.host_secret": lambda w, n: _form(f"/admin/outbox/hosts/{n}/secret", own="1"),
    "status_admin.add": lambda w, n: _form("/admin/status-mappings/", source=f"wms{n}",
                                           codes="OUT = shipped"),
    "status_admin.save": lambda w, n: _form("/admin/status-mappings/wms",
                                            codes="GATE_OUT = shipped"),
    "status_admin.reset": lambda w, n: _form("/admin/status-mappings/wms/reset"),
    "bundles.dry_run": lambda w, n: _form("/admin/templates/large-order-finance-review/dry-run",
                                                  create_fields="1"),
    "bundles.run_import": lambda w, n: _form(
        "/admin/templates/large-order-finance-review/import", create_fields="1"),
    "bundles.export_page": lambda w, n: _form(
        "/admin/templates/export", bundle_id=f"desk-{n}", name_zh="模板", name_en="Desk",
        description_zh="d", description_en="d", version="1.0.0", flows=["plain"]),
    "bundles.upload_dry_run": _upload("/admin/templates/upload"),
    "bundles.upload_import": _upload("/admin/templates/upload/import"),
    "org.create_department": lambda w, n: _form("/admin/org/departments", key=f"d{n}", name_zh="部门",
                                                parent="hq"),
    "org.update_department": lambda w, n: _form("/admin/org/departments/hq", name_zh=f"总部{n}"),
    "org.delete_department": lambda w, n: _form(f"/admin/org/departments/d{n - 1}/delete"),
    "org.create_role": lambda w, n: _form("/admin/org/roles", key=f"r{n}", name_zh="角色"),
    "org.update_role": lambda w, n: _form("/admin/org/roles/finance", name_zh=f"财务{n}"),
    "org.delete_role": lambda w, n: _form(f"/admin/org/roles/r{n - 1}/delete"),
    "org.add_holder": lambda w, n: _form("/admin/org/roles/finance/holders", user="victim"),
    "org.remove_holder": lambda w, n: _form("/admin/org/roles/finance/holders/remove", user="victim"),
    "org.update_person": lambda w, n: _form("/admin/org/people/victim", department="hq",
                                            manager="admin0"),
    "org.import_csv": lambda w, n: _form("/admin/org/import", apply="1", content=(
        "username,display_name,department,department_zh,department_en,parent_department,manager,"
        f"roles,active\nvictim,Victim {n},hq,,,,,finance,1\n")),
    "alerts.change": lambda w, n: _form(f"/alerts/1/{'acknowledge' if n % 2 else 'resolve'}"),
    "alerts.bulk": lambda w, n: _form("/alerts/bulk", action="acknowledge", alert=["1"]),
    "alerts.rule_new": lambda w, n: _form("/alerts/rules/new", key=f"big.{n}", **ALERT_RULE),
    "alerts.rule_edit": lambda w, n: _form("/alerts/rules/big.0", key="big.0", **ALERT_RULE),
    "alerts.rule_delete": lambda w, n: _form(f"/alerts/rules/big.{n}/delete"),
    "alerts.rule_evaluate": lambda w, n: _form("/alerts/rules/big.0/evaluate"),
    "alerts.rules_adopt": lambda w, n: _form("/alerts/rules/adopt"),
    "alerts.rule_preview": lambda w, n: _form("/alerts/rules/preview", key="big.p", **ALERT_RULE),
    "approvals.decide": lambda w, n: _form(f"/approvals/{w.task_keys[n % len(w.task_keys)]}/decide",
                                           decision="approved"),
    "approvals.delegate": lambda w, n: _form(
        f"/approvals/{w.task_keys[n % len(w.task_keys)]}/delegate", to_user="admin0",
        comment="on leave"),
    "approvals.away": lambda w, n: _form("/approvals/away", **{"from": "2027-01-01T09:00",
                                         "until": "2027-01-05T18:00", "delegate": "admin0"}),
    "approvals.add_approver": lambda w, n: _form(
        f"/approvals/{w.task_keys[n % len(w.task_keys)]}/add", user="victim", position="after"),
    "approvals.send_back": lambda w, n: _form(
        f"/approvals/{w.task_keys[n % len(w.task_keys)]}/send-back", to="user:",
        to_user="victim", comment="请补充发票"),
    "approvals.resubmit": lambda w, n: _form(
        f"/approvals/{w.task_keys[n % len(w.task_keys)]}/resubmit", comment="已补充"),
    "approvals.copy_to": lambda w, n: _form(
        f"/approvals/{w.task_keys[n % len(w.task_keys)]}/cc", users=["victim"]),
    "approvals.comment": lambda w, n: _form(
        f"/approvals/{w.task_keys[n % len(w.task_keys)]}/comments", comment=f"@victim 看看 {n}"),
    "approvals.bulk": lambda w, n: _form("/approvals/bulk", task=w.task_keys, decision="approved"),
    "approvals.use_link": lambda w, n: _form(
        f"/approvals/link/{w.links[n % len(w.links)]}/approve"),
    "costs.save": lambda w, n: _form("/costs/setup/drivers", key=f"pack{n}", name_zh="包装",
                                     formula="sum(l.qty for l in order.lines)", unit_rate="0.8",
                                     active="on"),
    "costs.remove": lambda w, n: _form(f"/costs/setup/drivers/pack{n}/delete"),
    "costs.defaults": lambda w, n: _form("/costs/setup/defaults"),
    "costs.recalculate": lambda w, n: _form("/costs/setup/recalculate", days="30"),
    "orders.fields": lambda w, n: _form("/orders/fields", name=f"region_{n}", type="string",
                                        label_zh="大区", label_en="Region"),
    "orders.delete_field": lambda w, n: _form(f"/orders/fields/region_{n}/delete"),
    "editor.flow_create": lambda w, n: _form("/flows", key=f"flow-{n}", name_zh="流程", name_en=""),
    "editor.flow_archive": lambda w, n: _form(f"/flows/flow-{n}/archive"),
    "editor.flow_duplicate": lambda w, n: _form("/flows/plain/duplicate"),
    "editor.run_retry": lambda w, n: _form("/runs/1/retry"),
    # the editor's JSON endpoints
    "editor_api.save_draft": lambda w, n: ("PUT", "/flows/plain/draft",
                                           {"json": {"doc": _draft("plain"), "base_revision": 1}}),
    "editor_api.publish": lambda w, n: ("POST", "/flows/plain/publish",
                                        {"json": {"note": f"v{n}", "revision": 1}}),
    "editor_api.simulate": lambda w, n: ("POST", "/flows/plain/simulate",
                                         {"json": {"doc": _draft("plain"),
                                                   "order": json.loads(_order_json(n, "SIM"))}}),
    "editor_api.backtest": lambda w, n: ("POST", "/flows/plain/backtest",
                                         {"json": {"doc": _draft("plain"), "last": 5}}),
    "editor_api.backtest_start": lambda w, n: ("POST", "/flows/plain/backtests",
                                               {"json": {"last": 5}}),
    "editor_api.backtest_cancel": lambda w, n: ("POST", f"/flows/backtests/{n % 5 + 1}/cancel", {}),
    "editor_api.test_order": lambda w, n: ("POST", "/flows/plain/test-order",
                                           {"json": {"order": json.loads(_order_json(n, "T"))}}),
    "editor_api.validate": lambda w, n: ("POST", "/flows/plain/validate",
                                         {"json": {"doc": _draft("plain")}}),
    "editor_api.builder_from_dsl": lambda w, n: ("POST", "/flows/editor/builder/from-dsl",
                                                 {"json": {"source": "order.amount > 5"}}),
    "editor_api.builder_to_dsl": lambda w, n: ("POST", "/flows/editor/builder/to-dsl", {"json": {
        "tree": {"op": "and", "items": [{"field": "order.amount", "cmp": ">", "value": 5}]}}}),
    "editor_api.check_expression": lambda w, n: ("POST", "/flows/editor/expression",
                                                 {"json": {"source": "order.amount > 5",
                                                           "kind": "condition"}}),
    "editor_api.node_form": lambda w, n: _form("/flows/editor/node-form", node=json.dumps(
        {"id": "end", "type": "end", "config": {"outcome": "ok"}})),
    "editor_api.analyze_table": lambda w, n: ("POST", "/flows/editor/table", {"json": {"table": {
        "hit_policy": "first", "inputs": [{"name": "amount", "expression": "order.amount"}],
        "outputs": [{"name": "queue", "type": "string"}],
        "rules": [{"when": ["> 100"], "then": ['"big"']}, {"when": ["-"], "then": ['"small"']}]}}}),
    # the API (an admin's key with every scope)
    "api.create_order": lambda w, n: _api("POST", "/orders", w, data=_order_json(n),
                                          content_type="application/json"),
    "api.create_orders": lambda w, n: _api("POST", "/orders/batch", w, data=(
        '{"orders": [' + _order_json(n, "B") + "]}"), content_type="application/json"),
    "api.channel_webhook": lambda w, n: _webhook(w, n),
    "api.decide": lambda w, n: _api("POST", f"/approvals/{w.task_keys[n % len(w.task_keys)]}/decision",
                                    w, json={"decision": "approved"}),
    "api.add_approver": lambda w, n: _api(
        "POST", f"/approvals/{w.task_keys[n % len(w.task_keys)]}/add-approver", w,
        json={"user": "victim", "position": "after"}),
    "api.send_back": lambda w, n: _api(
        "POST", f"/approvals/{w.task_keys[n % len(w.task_keys)]}/send-back", w,
        json={"to_user": "victim", "comment": "请补充发票"}),
    "api.resubmit": lambda w, n: _api(
        "POST", f"/approvals/{w.task_keys[n % len(w.task_keys)]}/resubmit", w,
        json={"comment": "已补充"}),
    "api.copy_approval": lambda w, n: _api(
        "POST", f"/approvals/{w.task_keys[n % len(w.task_keys)]}/cc", w,
        json={"users": ["victim"]}),
    "api.comment_approval": lambda w, n: _api(
        "POST", f"/approvals/{w.task_keys[n % len(w.task_keys)]}/comments", w,
        json={"comment": f"@victim 看看 {n}"}),
    "api.create_subscription": lambda w, n: _api(
        "POST", "/subscriptions", w,
        json={"name": f"api-{n}", "url": "http://127.0.0.1:9/hook", "events": ["order.created"]}),
    "api.update_subscription": lambda w, n: _api(
        "PATCH", f"/subscriptions/{w.ids['subscription']}", w, json={"active": n % 2 == 0}),
    "api.delete_subscription": lambda w, n: _api(
        "DELETE", f"/subscriptions/{w.ids['deleted_subscription']}", w),
    "api.create_department": lambda w, n: _api("POST", "/org/departments", w,
                                               json={"key": f"api{n}", "name_zh": "部门"}),
    "api.update_department": lambda w, n: _api("PATCH", "/org/departments/hq", w,
                                               json={"name_en": f"HQ {n}"}),
    "api.delete_department": lambda w, n: _api("DELETE", f"/org/departments/api{n - 1}", w),
    "api.create_role": lambda w, n: _api("POST", "/org/roles", w,
                                         json={"key": f"api_r{n}", "name_zh": "角色"}),
    "api.update_role": lambda w, n: _api("PATCH", "/org/roles/finance", w, json={"name_en": f"F{n}"}),
    "api.delete_role": lambda w, n: _api("DELETE", f"/org/roles/api_r{n - 1}", w),
    "api.add_holder": lambda w, n: _api("POST", "/org/roles/finance/holders", w,
                                        json={"user": "admin0"}),
    "api.remove_holder": lambda w, n: _api("DELETE", "/org/roles/finance/holders/admin0", w),
    "api.update_person": lambda w, n: _api("PATCH", "/org/people/victim", w,
                                           json={"department": "hq", "manager": None}),
    "api.create_flow": lambda w, n: _api("POST", "/flows", w, json=_draft(f"api-{n}")),
    "api.save_draft": lambda w, n: _api("PUT", "/flows/plain/draft", w,
                                        json={"base_revision": 1, "draft": _draft("plain")}),
    "api.publish": lambda w, n: _api("POST", "/flows/plain/publish", w, json={"note": f"v{n}"}),
    "api.validate": lambda w, n: _api("POST", "/flows/plain/validate", w, json=_draft("plain")),
    "api.import_flow": lambda w, n: _api("POST", "/flows/import?publish=true", w,
                                         json=_draft(f"imp-{n}")),
    "api.put_table": lambda w, n: _api("PUT", f"/reference-tables/t{n % 3}", w,
                                       json={**TABLE, "rows": [{"code": f"R{n}", "cost": "1"}]}),
    "api.upsert_rows": lambda w, n: _api("POST", "/reference-tables/carriers/rows", w,
                                         json={"rows": [{"code": f"C{n}", "cost": str(n)}]}),
    "api.delete_row": lambda w, n: _api("DELETE", f"/reference-tables/carriers/rows/C{n - 1}", w),
    "api.upload_csv": lambda w, n: _api("POST", "/reference-tables/customers/csv", w,
                                        data=f"id,code,cost\nK{n},K{n},2\n".encode(),
                                        content_type="text/csv"),
    "api.post_status_event": lambda w, n: _api("POST", "/status-events", w, json={
        "source": "wms", "event_id": f"ev-{n}", "code": "PACKED",
        "occurred_at": "2026-11-21T09:00:00+08:00", "order": {"external_id": "W0",
                                                            "channel": "taobao"}}),
    "api.put_status_mapping": lambda w, n: _api("PUT", f"/status-mappings/erp{n % 3}", w,
                                                json={"codes": {"OUT": "shipped"}}),
    "api.delete_status_mapping": lambda w, n: _api("DELETE", f"/status-mappings/erp{n % 3}", w),
}
# fmt: on
