"""Status mappings as data: admins replace a shipped source's codes or add a source system,
through the API, the admin page and template imports; events follow within a second."""

from __future__ import annotations

import pytest
import simplejson
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.errors import NotFoundError, ValidationError
from app.models import StatusSource
from app.status import sources

from ..conftest import csrf_token
from ..flows_fixtures import order_doc
from .conftest import Api


def _order(api, external_id: str = "M1") -> dict:
    body = simplejson.dumps(order_doc(external_id), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _event(api, order: dict, source: str, code: str, n: int = 1):
    return api.post("/status-events", json={
        "source": source, "event_id": f"{source}-{code}-{n}", "code": code,
        "occurred_at": "2026-11-21T09:00:00+08:00", "order": {"id": order["id"]}})  # fmt: skip


def test_a_shipped_source_gets_its_own_codes_and_can_go_back(app, api):
    order = _order(api)
    saved = api.put("/status-mappings/wms", json={"codes": {"gate_out": "shipped",
                                                            "QC-PASS": "packed"}})  # fmt: skip
    assert saved.status_code == 200, saved.json
    assert saved.json == {"source": "wms", "codes": {"GATE_OUT": "shipped", "QC-PASS": "packed"},
                          "shipped": True, "customised": True}  # fmt: skip
    assert _event(api, order, "wms", "qc-pass").json["state"] == "packed"
    # The saved table replaces the shipped one: its codes no longer apply.
    gone = _event(api, order, "wms", "PACKED")
    assert gone.status_code == 422 and gone.json["error"]["code"] == "unknown_status_code"
    assert api.get("/status-mappings").json["sources"]["wms"] == saved.json["codes"]
    with get_db(app).session() as db:  # who changed it: the API key, by name
        row = db.scalars(select(StatusSource).where(StatusSource.source == "wms")).one()
        assert row.updated_by.startswith("api:test-")

    back = api.delete("/status-mappings/wms")
    assert back.status_code == 200 and back.json["customised"] is False
    assert back.json["codes"]["PACKED"] == "packed"
    assert _event(api, order, "wms", "OUTBOUND_CONFIRMED").json["state"] == "shipped"
    assert api.delete("/status-mappings/wms").status_code == 404


def test_an_added_source_maps_its_codes_and_can_be_removed(api):
    order = _order(api)
    assert _event(api, order, "kingdee", "SO_AUDITED").json["error"]["code"] == "unknown_source"
    added = api.put("/status-mappings/kingdee", json={"codes": {"SO_AUDITED": "approved",
                                                                "已出库": "shipped"}})  # fmt: skip
    assert added.status_code == 200 and added.json["shipped"] is False
    assert _event(api, order, "kingdee", "SO_AUDITED").json["state"] == "approved"
    assert _event(api, order, "kingdee", "已出库").json["state"] == "shipped"
    removed = api.delete("/status-mappings/kingdee")
    assert removed.json == {"source": "kingdee", "codes": {}, "shipped": False,
                            "customised": False}  # fmt: skip
    assert _event(api, order, "kingdee", "已出库", 2).json["error"]["code"] == "unknown_source"


@pytest.mark.parametrize(
    ("source", "body", "code", "path", "words"),
    [("wms", {"codes": {"GATE_OUT": "shiped"}}, "invalid_codes", "/codes/GATE_OUT",
      "Did you mean shipped?"),
     ("wms", {"codes": {}}, "invalid_codes", "/codes", None),
     ("wms", {"codes": ["GATE_OUT"]}, "invalid_codes", "/codes", None),
     ("wms", {"codes": {" gate_out ": "shipped", "GATE_OUT": "packed"}}, "invalid_codes",
      "/codes/GATE_OUT", "given twice"),
     ("wms", {"codes": {"X" * 65: "shipped"}}, "invalid_codes", f"/codes/{'X' * 65}", None),
     ("WMS!", {"codes": {"A": "shipped"}}, "invalid_source", "/source", None)],
)  # fmt: skip
def test_bad_mappings_are_refused_and_change_nothing(api, source, body, code, path, words):
    response = api.put(f"/status-mappings/{source}", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == code
    problem = next(d for d in response.json["error"]["details"] if d["path"] == path)
    if words:
        assert words in problem["message"]
    assert api.get("/status-mappings").json["sources"]["wms"]["PACKED"] == "packed"


def test_writing_mappings_needs_the_reference_scope(client, make_key):
    reader = Api(client, make_key(scopes=("orders:read", "orders:write")))
    refused = reader.put("/status-mappings/wms", json={"codes": {"A": "shipped"}})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "missing_scope"


def test_other_processes_see_a_change_within_a_second(app, monkeypatch):
    database = get_db(app)
    with app.app_context(), database.session() as db:
        assert "LOADED" in sources.effective(db)["wms"]
    # Another process saves a table (this one's cache is not told).
    with database.engine.begin() as conn:
        from app.models import StatusSource, utcnow

        conn.execute(StatusSource.__table__.insert().values(
            source="wms", codes={"GATE_OUT": "shipped"}, updated_at=utcnow()))  # fmt: skip
    with app.app_context(), database.session() as db:
        assert "LOADED" in sources.effective(db)["wms"]  # still the cached table
        from app import rechecked

        later = rechecked.time.monotonic() + sources.RECHECK_SECONDS + 0.01
        monkeypatch.setattr(rechecked.time, "monotonic", lambda: later)
        assert sources.effective(db)["wms"] == {"GATE_OUT": "shipped"}


def test_lines_are_read_with_their_numbers(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert sources.parse_lines("# ours\nqc_pass = packed  # after QC\n\nGATE_OUT=shipped") == {
            "QC_PASS": "packed", "GATE_OUT": "shipped"}  # fmt: skip
        with pytest.raises(ValidationError) as err:
            sources.parse_lines("A = shipped\nB shipped\na = packed")
        assert [(d["path"], d["rule"]) for d in err.value.details] == [
            ("line 2", "format"), ("line 3", "unique")]  # fmt: skip
        with pytest.raises(ValidationError) as err:
            sources.parse_lines("A = shiped")
        assert err.value.details[0]["path"] == "line 1"
        assert "Did you mean shipped?" in err.value.details[0]["message"]
    with app.app_context(), get_db(app).session() as db, pytest.raises(NotFoundError):
        sources.reset(db, "erp")


@pytest.fixture
def admin(client, make_user, login):
    make_user("root", roles=("admin",))
    login("root")
    return client


def test_admin_edits_adds_and_restores_from_the_page(admin):
    page = admin.get("/admin/status-mappings/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="source-carrier"' in text and "PACKED = packed" in text
    token = csrf_token(admin, "/admin/status-mappings/")

    refused = admin.post("/admin/status-mappings/wms", data={
        "csrf_token": token, "codes": "GATE_OUT = shiped\nQC_PASS packed"})  # fmt: skip
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "状态映射有 2 处问题，未保存任何内容。" in body
    assert "第 2 行" in body and "您是不是想写 shipped？" in body
    assert "GATE_OUT = shiped" in body  # what was typed stays in the form

    saved = admin.post("/admin/status-mappings/wms", data={
        "csrf_token": token, "codes": "GATE_OUT = shipped\nqc_pass = packed"})  # fmt: skip
    assert saved.status_code == 302
    text = admin.get("/admin/status-mappings/").get_data(as_text=True)
    assert "QC_PASS = packed" in text and "已修改" in text

    added = admin.post("/admin/status-mappings/", data={
        "csrf_token": token, "source": "wms2", "codes": "OUT = shipped"})  # fmt: skip
    assert added.status_code == 302
    twice = admin.post("/admin/status-mappings/", data={
        "csrf_token": token, "source": "wms2", "codes": "OUT = shipped"})  # fmt: skip
    assert twice.status_code == 422 and "wms2 已存在" in twice.get_data(as_text=True)
    bad_key = admin.post("/admin/status-mappings/", data={
        "csrf_token": token, "source": "WMS 2", "codes": "OUT = shipped"})  # fmt: skip
    assert bad_key.status_code == 422
    assert 'value="WMS 2"' in bad_key.get_data(as_text=True)

    admin.post("/admin/status-mappings/wms/reset", data={"csrf_token": token})
    admin.post("/admin/status-mappings/wms2/reset", data={"csrf_token": token})
    text = admin.get("/admin/status-mappings/").get_data(as_text=True)
    assert "QC_PASS = packed" not in text and 'data-testid="source-wms2"' not in text


def test_the_page_is_for_admins(client, make_user, login):
    make_user("viewer9", roles=("viewer",))
    login("viewer9")
    assert client.get("/admin/status-mappings/").status_code == 403


def test_importing_a_template_adds_its_status_codes(app, api):
    from app.bundles import services as templates
    from templates_lib import builtin_bundle

    database = get_db(app)
    bundle = builtin_bundle("cross-system-status-alignment")
    with app.test_request_context():
        in_transaction(database, lambda db: templates.import_bundle(db, None, bundle,
                                                                    create_fields=True))  # fmt: skip
    mapped = api.get("/status-mappings").json["sources"]
    assert mapped["wms"]["QC_RELEASED"] == "packed" and mapped["wms"]["GATE_OUT"] == "shipped"
    assert mapped["wms"]["OUTBOUND_CONFIRMED"] == "shipped"  # shipped codes are kept
    assert mapped["tms"]["POD_SIGNED"] == "signed"
    order = _order(api, "TPL1")
    assert _event(api, order, "wms", "QC_RELEASED").json["state"] == "packed"
