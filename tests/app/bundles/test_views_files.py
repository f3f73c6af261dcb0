"""Uploading a bundle zip (size-limited, refused precisely when malformed) and exporting the
admin's own flows, tables and alert rules as a zip from the pages."""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from sqlalchemy import select

from app.bundles import services
from app.db import get_db
from app.models import TemplateImport
from templates_lib import BUNDLES_DIR, read_dir, read_zip, to_zip
from tests.app.bundles.test_views import EN, HX, ZH, _counts
from tests.app.conftest import csrf_token
from tests.templates_lib.damaged import GOOD, damaged_member

LARGE = BUNDLES_DIR / "large-order-finance-review"
LIMIT = 2 * 1024 * 1024  # the app's MAX_CONTENT_LENGTH


@pytest.fixture
def admin(client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    return csrf_token(client, "/admin/templates/upload")


def _upload(client, token, data: bytes, path="/admin/templates/upload", headers=HX | ZH, **form):
    if len(data) > LIMIT:  # refused on its length alone: sent raw, as a browser would start
        return client.post(path, data=data, headers=headers,
                           content_type="multipart/form-data; boundary=x")  # fmt: skip
    body = {"csrf_token": token, "bundle": (BytesIO(data), "bundle.zip"), **form}
    return client.post(path, data=body, headers=headers, content_type="multipart/form-data")


def _edited(change) -> bytes:
    files = read_dir(LARGE)
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
    return to_zip(files)


@pytest.mark.parametrize(
    ("data", "status", "zh", "en"),
    [
        (b"not a zip at all", 422, "不是有效的 zip 文件", "not a zip file"),
        (
            _edited(lambda m: m.__setitem__("industries", [])),
            422,
            "manifest.json /industries",
            "manifest.json /industries",
        ),
        (
            _edited(lambda m: m.__setitem__("flows", ["flows/missing.flow.json"])),
            422,
            "缺少文件 flows/missing.flow.json",
            "file flows/missing.flow.json is missing",
        ),
        (b"x" * (LIMIT + 1), 413, "文件超过 2.0 MiB", "larger than 2.0 MiB"),
        (GOOD[: len(GOOD) // 2], 422, "该文件不是有效的模板包", "not a valid template bundle"),
        (
            damaged_member(GOOD, "manifest.json", stored=True),
            422,
            "该文件不是有效的模板包：manifest.json 已损坏",
            "not a valid template bundle: manifest.json is damaged",
        ),
        (
            damaged_member(GOOD, "manifest.json", stored=False),
            422,
            "该文件不是有效的模板包：manifest.json 已损坏",
            "not a valid template bundle: manifest.json is damaged",
        ),
    ],
    ids=["not-a-zip", "schema-violation", "missing-flow-file", "too-large", "truncated",
         "bad-crc", "bad-deflate"],
)  # fmt: skip
def test_bad_uploads_are_refused_precisely_in_the_users_language(
    app, client, admin, data, status, zh, en
):
    for path in ("/admin/templates/upload", "/admin/templates/upload/import"):
        response = _upload(client, admin, data, path=path)
        html = response.get_data(as_text=True)
        assert response.status_code == status and "<html" not in html
        assert 'data-testid="import-error"' in html and zh in html
    english = _upload(client, admin, data, headers=HX | EN).get_data(as_text=True)
    assert en in english
    page = _upload(client, admin, data, headers=ZH)  # without htmx: the whole upload page
    assert page.status_code == status and "<html" in page.get_data(as_text=True)
    assert _counts(app) == (0, 0, 0, 0)


def test_an_upload_without_a_file_asks_for_one(client, admin):
    response = client.post("/admin/templates/upload", data={"csrf_token": admin}, headers=HX | ZH)
    assert response.status_code == 422
    assert "请选择要上传的模板包 zip 文件" in response.get_data(as_text=True)


def test_an_uploaded_bundle_is_shown_with_its_dry_run_then_imported(app, client, admin):
    data = to_zip(read_dir(LARGE))
    shown = _upload(client, admin, data)
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "<html" not in html
    assert 'data-kind="flow" data-key="large-order-finance-review" data-action="create"' in html
    assert '<svg class="flow-graph"' in html and "大额订单财务复核" in html
    assert 'formaction="/admin/templates/upload/import"' in html
    assert _counts(app) == (0, 0, 0, 0)
    done = _upload(client, admin, data, path="/admin/templates/upload/import", publish="1")
    assert done.status_code == 200 and 'data-testid="import-summary"' in done.get_data(as_text=True)
    with get_db(app).session() as db:
        record = db.scalars(select(TemplateImport)).one()
        assert (record.source, record.bundle_id, record.options["publish"]) == (
            "upload",
            "large-order-finance-review",
            True,
        )


def _seed(app) -> None:
    from app.db import in_transaction

    with app.app_context():
        for bundle_id in ("large-order-finance-review", "b2b-flexible-routing"):
            bundle = services.get_builtin(bundle_id)
            in_transaction(
                get_db(app),
                lambda db, b=bundle: services.import_bundle(db, None, b, create_fields=True),
            )


def test_export_page_offers_the_installations_own_flows_tables_and_alert_rules(app, client, admin):
    _seed(app)
    page = client.get("/admin/templates/export", headers=ZH).get_data(as_text=True)
    for value in ("large-order-finance-review", "b2b-po-merge", "carriers",
                  "alert_rule:b2b.credit_holds", "notification_text:b2b.merge_request"):  # fmt: skip
        assert f'value="{value}"' in page
    form = {
        "csrf_token": admin,
        "bundle_id": "our-desk",
        "name_zh": "我们的订单台",
        "name_en": "Our desk",
        "version": "2.1.0",
        "flows": ["large-order-finance-review"],
        "tables": ["customers"],
        "items": ["alert_rule:finance.review_backlog"],
        "industries": ["distribution"],
    }
    response = client.post("/admin/templates/export", data=form)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "our-desk-2.1.0.zip" in response.headers["Content-Disposition"]
    files = read_zip(response.data)
    manifest = json.loads(files["manifest.json"])
    assert manifest["name"] == {"en": "Our desk", "zh": "我们的订单台"}
    assert manifest["flows"] == ["flows/large-order-finance-review.flow.json"]
    assert [r["key"] for r in manifest["alert_rules"]] == ["finance.review_backlog"]
    assert "notification_texts" not in manifest
    assert sorted(n for n in files if n.startswith("tables/")) == ["tables/customers.json"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"flows": []}, "请至少选择一个流程"),
        ({"bundle_id": "Our Desk"}, "请使用小写字母、数字、. _ 和 -"),
        ({"name_en": ""}, "请填写模板包的英文名称"),
        ({"version": "2"}, "请使用 x.y.z 格式"),
    ],
)
def test_export_form_errors_are_explained(app, client, admin, change, message):
    _seed(app)
    form = {"csrf_token": admin, "bundle_id": "our-desk", "name_zh": "订单台",
            "name_en": "Desk", "version": "1.0.0", "flows": ["b2b-po-merge"], **change}  # fmt: skip
    response = client.post("/admin/templates/export", data=form, headers=ZH)
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_the_import_command_refuses_a_damaged_zip_in_one_line(app, app_config, tmp_path, subtests):
    from click.testing import CliRunner

    from app.cli import cli

    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    damaged = {"not-a-zip": b"not a zip at all", "truncated": GOOD[:-10],
               "bad-deflate": damaged_member(GOOD, "manifest.json", stored=False)}  # fmt: skip
    for name, data in damaged.items():
        with subtests.test(name):
            path = tmp_path / f"{name}.zip"
            path.write_bytes(data)
            result = CliRunner().invoke(cli, ["templates", "import", str(path)], env=env)
            assert result.exit_code == 1 and result.exception.__class__ is SystemExit
            assert "the file is not a valid template bundle" in result.output
            assert "Traceback" not in result.output
    assert _counts(app) == (0, 0, 0, 0)
