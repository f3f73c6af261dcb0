"""Every shipped bundle imports into a fresh database and its sample orders, sent through the
real intake, produce exactly their expected outcomes (and so do their scripted events)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.bundles import samples, services
from app.db import get_db
from app.models import Flow, FlowVersion, OutboxMessage, TemplateImport
from app.runs import outbox
from templates_lib import builtin_bundles, check_expectations, sample_now
from tests.app.org_fixtures import role_keys, staffed
from tests.app.webhook_server import Receiver

BUNDLES = builtin_bundles()


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.id for b in BUNDLES])
def test_bundle_imports_and_its_samples_behave_as_promised(bundle, app, tx, make_user) -> None:
    # The demo organisation (conftest) has the people the bundles' business roles reach.
    make_user("admin", roles=("admin",))
    with Receiver() as receiver:
        _check_bundle(bundle, app, tx, receiver)


def _deliver_awaited(app, tx) -> None:
    """Deliver the awaited webhooks to the loopback receiver, as the outbox worker does."""
    pending = tx(
        lambda db: list(
            db.scalars(select(OutboxMessage.id).where(OutboxMessage.status == outbox.PENDING))
        )
    )
    with app.app_context():
        for message_id in pending:
            outbox.deliver(get_db(app), message_id)


def _check_bundle(bundle, app, tx, receiver) -> None:
    # Awaited webhooks go to a real HTTP receiver that answers what the sample scripts.
    awaited = {"label_url": receiver.url} if "label_url" in bundle.parameters else {}
    resolved = bundle.resolved(awaited)

    def load(db):
        record = services.import_bundle(
            db, None, bundle, params=awaited, publish=True, create_fields=True, allow_hosts=True
        )
        return record.summary["counts"]

    # The roles the bundle's flows assign to exist as business roles with their holders.
    docs = [getattr(f, "doc", f) for f in resolved.flows]
    tx(lambda db: staffed(db, role_keys(docs)))
    counts = tx(load)
    assert counts.get("create", 0) >= len(bundle.flows)
    for sample in resolved.samples:
        responses = sample.get("webhook_responses") or {}
        receiver.reply = next(iter(responses.values()), {}).get("body") or {}
        order_id = tx(lambda db, sample=sample: _arrive(db, resolved, sample))
        if responses:
            _deliver_awaited(app, tx)

        def arrived(db, sample=sample, order_id=order_id):
            from app.models import Order

            seen = samples.observe(db, db.get(Order, order_id))
            return check_expectations(resolved.flow_keys, sample["expect"], seen)

        problems = tx(arrived)
        assert problems == [], f"{sample['id']}: {problems}"
        if "then" not in sample:
            continue

        def later(db, sample=sample, order_id=order_id):
            from app.models import Order

            order = db.get(Order, order_id)
            samples.play(db, order, sample["then"]["events"], sample_now(sample))
            seen = samples.observe(db, order)
            return check_expectations(resolved.flow_keys, sample["then"]["expect"], seen)

        assert tx(later) == [], sample["id"]

    def state(db):
        count = select(func.count())
        flows = db.scalar(count.select_from(Flow).where(Flow.key.in_(bundle.flow_keys)))
        live = db.scalar(count.select_from(FlowVersion).where(FlowVersion.is_live.is_(True)))
        return flows, live, db.scalar(count.select_from(TemplateImport))

    assert tx(state) == (len(bundle.flows), len(bundle.flows), 1)


def _arrive(db, resolved, sample) -> int:
    received = samples.feed(db, resolved, sample)
    assert received.created
    return received.order.id
