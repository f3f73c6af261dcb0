"""A template import that publishes refuses a decision table that can miss; without
publishing the flow is kept as a draft."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.bundles import services
from app.bundles.plan import make_plan
from app.errors import ValidationError
from app.models import Flow
from templates_lib import BUNDLES_DIR, read_dir, to_zip


def _without_default_row() -> bytes:
    files = read_dir(BUNDLES_DIR / "b2b-flexible-routing")
    name = "flows/b2b-order-routing.flow.json"
    doc = json.loads(files[name])
    credit = next(n for n in doc["nodes"] if n["id"] == "credit_policy")
    credit["config"]["table"]["rules"].pop()  # its default row (every input "-")
    files[name] = json.dumps(doc, ensure_ascii=False).encode()
    return to_zip(files)


def test_a_template_import_that_publishes_refuses_a_table_that_can_miss(tx) -> None:
    bundle = services.read_upload(_without_default_row())
    dry_run = tx(lambda db: make_plan(db, bundle, publish=True, create_fields=True))
    (refusal,) = dry_run.refusals
    assert refusal.startswith("b2b-order-routing: Decision table 'Credit policy by tier' can miss")
    assert tx(lambda db: make_plan(db, bundle, create_fields=True)).ok  # drafts may miss
    with pytest.raises(ValidationError) as caught:
        tx(lambda db: services.import_bundle(db, None, bundle, publish=True, create_fields=True))
    assert caught.value.code == "import_refused"
    assert "Decision table 'Credit policy by tier' can miss" in str(caught.value.message)
    assert tx(lambda db: db.scalars(select(Flow.key)).all()) == []
    tx(lambda db: services.import_bundle(db, None, bundle, create_fields=True))
    published = tx(lambda db: dict(db.execute(select(Flow.key, Flow.published_version)).all()))
    assert published["b2b-order-routing"] is None
