"""The demo: a sensible set of templates imported and published, with their sample orders
fed so a newcomer sees live runs, approvals waiting and alerts at once."""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..db import get_db, in_transaction
from . import samples, services

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


def load_demo(app: Flask, bundle_ids: tuple[str, ...] = DEMO_BUNDLES) -> list[str]:
    """Import each bundle (published, fields created, existing data kept) and feed its
    samples, one transaction per bundle; returns what happened, one line per bundle.
    Importing again changes nothing: unchanged bundles are not recorded again and orders
    already received start no new runs."""
    database = get_db(app)
    lines = []
    for bundle_id in bundle_ids:
        bundle = services.get_builtin(bundle_id)
        options: dict[str, Any] = dict(policy="skip", publish=True, create_fields=True)

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
    return ["Demo templates (published, with sample orders):", *lines]
