"""The pages of the crawl: every page an admin reaches, shared by the whole-site browser checks.

``crawl_site`` loads the demo (runs, approvals waiting, alerts), turns one webhook into a dead
letter whose awaited call leaves its run in an incident, adds a draft flow holding every node
type and serves the app. ``site_paths`` lists every page of the nav, the first rows each list
links to, approval tasks, the incident run, the outbox and the notifications; ``editor_panels``
opens the draft in the editor and each node type's configuration panel in turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from app.bundles.demo import load_demo
from app.db import get_db, get_session, in_transaction
from app.flows import services as flows
from app.models import AllowedHost, ApprovalTask, OutboxMessage, Run
from app.orders import services as orders
from app.runs import outbox
from flow_engine import NODE_HANDLERS
from tests.app.flows_fixtures import flow_doc, order_doc, publish

from .serving import serving

# The app configuration the crawl needs: only the demo's own allowlist entry lets its
# webhooks out (and the crawl takes it away). Test modules merge it into ``app_config``.
CRAWL_CONFIG = {"DEMO_RECEIVER": True, "OUTBOX_ALLOWED_HOSTS": ""}
USERNAME = "boss"


@dataclass(frozen=True)
class Site:
    base: str
    incident_run: int
    draft_key: str


def login(page, base: str, username: str = USERNAME) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def _dead_letter(app) -> None:
    """Take the demo receiver off the allowlist and deliver: the webhooks die, refused."""
    database = get_db(app)
    with database.session() as db:
        for host in db.scalars(select(AllowedHost)):
            outbox.remove_allowed_host(db, host.id)
        db.commit()
        pending = list(db.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "webhook")))
    for message_id in pending:
        outbox.deliver(database, message_id)


def _incident(app) -> int:
    """A run stopped in an incident: the order's unit count is 0 and the price divides by it."""
    doc = flow_doc(
        "per-unit",
        [{"id": "start", "type": "start", "name": {"zh": "开始", "en": "Start"}},
         {"id": "unit", "type": "set", "name": {"zh": "计算单价", "en": "Unit price"},
          "config": {"fields": [{"path": "vars.unit", "expression": "order.amount / order.custom.units"}]}},
         {"id": "done", "type": "end", "name": {"zh": "完成", "en": "Done"}, "config": {"outcome": "priced"}}],
        [("start", "unit"), ("unit", "done")],
    )  # fmt: skip
    doc["name"] = {"zh": "按件计价", "en": "Per-unit pricing"}
    database = get_db(app)
    in_transaction(database, lambda db: publish(db, doc))
    order = order_doc("U-1", "100.00", custom={"units": 0})
    in_transaction(database, lambda db: orders.ingest(db, order))
    with database.session() as db:
        return db.scalars(select(Run.id).where(Run.status == "incident")).one()


def _draft_with_every_node(app) -> str:
    nodes = [
        {"id": f"n_{t}", "type": t, "config": {}, "position": {"x": 40 + 60 * i, "y": 80}}
        for i, t in enumerate(NODE_HANDLERS)
    ]
    doc = {
        "format_version": 1,
        "key": "every-node",
        "name": {"zh": "全部节点", "en": "Every node"},
        "trigger": {"event": "order.created"},
        "nodes": nodes,
        "edges": [],
    }
    with app.app_context():
        db = get_session()
        flows.create_flow(db, None, doc)
        db.commit()
    return "every-node"


def links(page, selector: str) -> list[str]:
    return page.evaluate(
        f"[...document.querySelectorAll({json.dumps(selector)})].map(a => a.getAttribute('href'))"
    )


@contextmanager
def crawl_site(app, make_user) -> Iterator[Site]:
    """Serve ``app`` with the demo, a dead letter, an incident and a draft of every node."""
    make_user(USERNAME, roles=("admin",), display_name="管理员")
    with serving(app) as base:
        with app.app_context():
            load_demo(app, receiver_base=base)
        _dead_letter(app)
        incident_run = _incident(app)
        key = _draft_with_every_node(app)
        yield Site(base=base, incident_run=incident_run, draft_key=key)


def site_paths(page, app, site: Site) -> list[str]:
    """Every page of the crawl, in visiting order (``page`` is logged in as an admin)."""
    base = site.base
    paths = ["/"]

    def add(path: str) -> None:
        if path not in paths:
            paths.append(path)

    page.goto(base + "/")
    for path in links(page, "header nav a[href^='/']"):
        add(path)
    # The first rows each list links to.
    for listing, pattern in (
        ("/orders", r"/orders/\d+"),
        ("/runs", r"/runs/\d+"),
        ("/alerts", r"/alerts/\d+"),
    ):
        page.goto(base + listing)
        for href in [h for h in links(page, "main a") if re.fullmatch(pattern, h)][:2]:
            add(href)
    with get_db(app).session() as db:
        tasks = db.scalars(select(ApprovalTask.task_key).order_by(ApprovalTask.id).limit(2))
        for task_key in list(tasks):
            add(f"/approvals/{task_key}")
    for extra in (f"/runs/{site.incident_run}", "/admin/outbox/", "/notifications"):
        add(extra)
    # The crawl sees each kind of page it promises (so an empty list cannot pass).
    approval_pages = [p for p in paths if re.fullmatch(r"/approvals/\d+:\w+", p)]
    alert_pages = [p for p in paths if re.fullmatch(r"/alerts/\d+", p)]
    assert approval_pages and alert_pages, "\n".join(paths)
    assert page.goto(f"{base}/admin/outbox/") and page.locator("[data-testid^=dead-]").count()
    return paths


def visit(page, site: Site, path: str) -> None:
    page.goto(site.base + path)
    page.wait_for_timeout(250)  # htmx fragments loaded on page load


def editor_panels(page, site: Site) -> Iterator[str]:
    """Open the draft in the editor, then each node type's panel; yields the node type."""
    page.goto(f"{site.base}/flows/{site.draft_key}")
    page.wait_for_selector("#editor .ed-canvas svg")
    for node_type in NODE_HANDLERS:
        node_id = f"n_{node_type}"
        page.evaluate(f"OF.editor.fg.selectOnly({json.dumps(node_id)})")
        page.wait_for_selector(f'.node-form[data-node-id="{node_id}"]')
        yield node_type
