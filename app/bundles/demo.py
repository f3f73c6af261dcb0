"""The demo: a sensible set of templates imported and published, with their sample orders
fed so a newcomer sees live runs, approvals waiting and alerts at once.

Webhook addresses in the templates (an ERP's) are pointed at the built-in demo receiver of
the server at ``receiver_base``, whose host is put on the allowlist: the demo's deliveries
arrive instead of filling the dead letters. Four weeks of order history (``history``) come
after the samples, so the dashboard has something to show on first start."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import get_db, in_transaction
from ..metrics.refresh import refresh
from ..models import AllowedHost
from ..org.demo import load_demo_org
from ..runs import outbox
from . import history, receiver, samples, services

# Bundles whose flows start on different orders, so their samples show what each one does.
DEMO_BUNDLES = (
    "b2b-flexible-routing",
    "large-order-finance-review",
    "urgent-order-prereview",
    "cross-system-status-alignment",
    "cross-border-status-bridge",
    "live-commerce-intake",
)
QUIET = frozenset({"unchanged", "warn", "skip"})


def load_demo(
    app: Flask,
    bundle_ids: tuple[str, ...] = DEMO_BUNDLES,
    *,
    receiver_base: str = "http://127.0.0.1:5000",
) -> list[str]:
    """Import each bundle (published, fields created, existing data kept) and feed its
    samples, one transaction per bundle; returns what happened, one line per bundle.
    Importing again changes nothing: unchanged bundles are not recorded again and orders
    already received start no new runs. ``receiver_base`` is where the server will answer
    (its demo receiver takes the templates' webhooks)."""
    database = get_db(app)
    # The demo's templates assign to its business roles (finance, ops_supervisor ...).
    in_transaction(database, load_demo_org)
    in_transaction(database, lambda db: _allow_receiver(db, receiver_base))
    lines = []
    for bundle_id in bundle_ids:
        bundle = services.get_builtin(bundle_id)
        options: dict[str, Any] = dict(
            policy="skip",
            publish=True,
            create_fields=True,
            params=_receiver_params(bundle, receiver_base),
        )

        def work(db: Any, bundle: Any = bundle, options: dict[str, Any] = options) -> str:
            plan = services.dry_run(db, bundle, **options)
            imported = not all(i.action in QUIET for i in plan.items)
            if imported:
                services.import_bundle(db, None, bundle, **options)
            fed = samples.feed_all(db, bundle.resolved())
            new = sum(1 for r in fed if r.created)
            state = "imported" if imported else "unchanged"
            return f"  {bundle.name['zh']} / {bundle.name['en']}: {state}, {new} new sample orders"

        lines.append(in_transaction(database, work))
    past = in_transaction(database, history.load_history)
    # The figures are refreshed now rather than by the first worker pass: the dashboard
    # shows the history the moment the server starts.
    refresh(database, budget=120.0)
    return [
        "Demo templates (published, with sample orders):",
        *lines,
        f"Order history: {past} orders over the last {history.DAYS} days (with costs, "
        "approvals and deliveries)"
        if past
        else "Order history: already loaded",
        f"Their webhooks go to the demo receiver at {receiver.receiver_url(receiver_base, '<name>')}",
    ]


def _receiver_params(bundle: Any, base: str) -> dict[str, str]:
    # erp_url → /demo/receiver/erp: the receiver's log says which address was called.
    return {
        name: receiver.receiver_url(base, name.removesuffix("_url"))
        for name, spec in bundle.parameters.items()
        if spec.get("type") == "url"
    }


def _allow_receiver(db: Session, base: str) -> None:
    host = (urlsplit(base).hostname or "").lower()
    if db.scalars(select(AllowedHost.id).where(AllowedHost.host == host)).first() is None:
        outbox.add_allowed_host(db, None, host, receiver.NOTE)
