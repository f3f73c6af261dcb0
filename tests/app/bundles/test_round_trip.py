"""Export then import into an empty installation reproduces the flows, reference tables,
custom fields and alert rules exactly: a second app on its own database (a fresh SQLite
file, or a throw-away PostgreSQL database) receives the zip through the upload page."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from app.bundles import services
from app.db import get_db, get_session, in_transaction
from app.flows.services import live_version
from app.migrate import upgrade
from app.models import (
    AlertRule,
    BusinessRole,
    CustomField,
    Flow,
    ReferenceRow,
    ReferenceTable,
    TemplateItem,
)
from app.users import services as users
from templates_lib import read_zip
from tests.app.bundles.test_views_files import _upload
from tests.app.conftest import PG_URL, USING_PG, csrf_token

BUNDLES = ("b2b-flexible-routing", "large-order-finance-review", "cross-system-status-alignment")


@pytest.fixture
def empty_database_url(template_db: str, tmp_path) -> Iterator[str]:
    """A second database migrated to head with nothing in it."""
    if not USING_PG:
        target = tmp_path / "second.db"
        shutil.copy(template_db, target)
        yield f"sqlite:///{target}"
        return
    name = f"of_round_trip_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _snapshot(app) -> dict[str, Any]:
    """Everything an export carries, as stored: flow documents, tables with their rows,
    custom fields, the live alert rules and the kept texts."""
    with get_db(app).session() as db:
        flows = {}
        for flow in db.scalars(select(Flow).order_by(Flow.key)):
            version = live_version(db, flow)
            flows[flow.key] = flow.draft if flow.draft is not None else version.doc
        tables = {
            t.name: {
                "key": t.key_field,
                "columns": t.columns,
                "rows": {
                    r.key: r.data
                    for r in db.scalars(select(ReferenceRow).where(ReferenceRow.table_id == t.id))
                },
            }
            for t in db.scalars(select(ReferenceTable))
        }
        fields = {
            f.name: (f.type, f.label_en, f.label_zh, f.required, f.options)
            for f in db.scalars(select(CustomField))
        }
        items = {(i.kind, i.key): i.data for i in db.scalars(select(TemplateItem))}
        rules = {
            r.key: (r.kind, r.definition, r.severity, r.name_zh, r.name_en, r.recipients,
                    r.channels, r.cooldown_seconds, r.auto_resolve, r.every_seconds, r.enabled)
            for r in db.scalars(select(AlertRule))
        }  # fmt: skip
    return {"flows": flows, "tables": tables, "fields": fields, "items": items, "rules": rules}


def _export(client, token: str, snapshot: dict[str, Any]) -> bytes:
    form = {
        "csrf_token": token,
        "bundle_id": "our-desk",
        "name_zh": "我们的订单台",
        "name_en": "Our order desk",
        "flows": sorted(snapshot["flows"]),
        "tables": sorted(snapshot["tables"]),
        "items": sorted(f"alert_rule:{key}" for key in snapshot["rules"])
        + sorted(f"{k}:{key}" for k, key in snapshot["items"] if k == "notification_text"),
    }
    response = client.post("/admin/templates/export", data=form)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.data


def test_export_then_import_into_an_empty_installation_reproduces_everything(
    empty_database_url, app, client, login, make_user, make_app
):
    make_user("boss", roles=("admin",))
    with app.app_context():
        for bundle_id in BUNDLES:
            bundle = services.get_builtin(bundle_id)
            in_transaction(
                get_db(app),
                lambda db, b=bundle: services.import_bundle(
                    db, None, b, create_fields=True, publish=b.id != "b2b-flexible-routing"
                ),
            )
    before = _snapshot(app)
    assert len(before["flows"]) == 4 and sorted(before["tables"]) == ["carriers", "customers"]
    assert {k for k, _ in before["items"]} >= {"alert_rule", "notification_text"}
    login("boss")
    zipped = _export(client, csrf_token(client, "/admin/templates/export"), before)

    second = make_app(DATABASE_URL=empty_database_url)
    with second.app_context():
        in_transaction(
            get_db(second),
            lambda db: users.create_user(
                db, None, username="root", password="correct-horse", roles=("admin",)
            ),
        )
    assert _snapshot(second)["flows"] == {}
    other = second.test_client()
    other.post("/login", data={"username": "root", "password": "correct-horse",
                               "csrf_token": csrf_token(other)})  # fmt: skip
    token = csrf_token(other, "/admin/templates/upload")
    # The empty installation has none of the business roles: each is refused until mapped...
    refused = _upload(
        other, token, zipped, path="/admin/templates/upload/import", create_fields="1"
    )
    assert refused.status_code == 422 and "ops_supervisor" in refused.get_data(as_text=True)
    # ...or created, named as the export names them.
    roles = {f"people:role:{k}": "new" for k in ("ops_supervisor", "general_manager", "finance",
                                                  "customer_service")}  # fmt: skip
    done = _upload(other, token, zipped, path="/admin/templates/upload/import", create_fields="1",
                   **roles)  # fmt: skip
    assert done.status_code == 200 and 'data-testid="import-summary"' in done.get_data(as_text=True)

    with second.app_context():
        names = {r.key: (r.name_zh, r.name_en) for r in get_session().scalars(select(BusinessRole))}
    assert names["finance"] == ("财务", "Finance") and len(names) == 4
    after = _snapshot(second)
    assert after["flows"] == before["flows"]
    assert after["tables"] == before["tables"]
    assert after["fields"] == before["fields"]
    # The template bundles' alert rules went live on import, and live they arrive.
    assert len(before["rules"]) >= 2
    for key, rule in before["rules"].items():
        assert after["rules"][key] == rule, key
    assert after["rules"] == before["rules"]
    texts = {k: v for k, v in before["items"].items() if k[0] == "notification_text"}
    assert {k: v for k, v in after["items"].items() if k[0] == "notification_text"} == texts
    # And the second installation exports the very same bundle again.
    assert read_zip(_export(other, token, after)) == read_zip(zipped)
