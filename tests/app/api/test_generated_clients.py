"""Clients generated from the OpenAPI document work against a live server: the one most
Python integrators generate (openapi-python-client) and pydantic models from
datamodel-code-generator. Both generate without a warning, and their typed answers
carry what the server sent."""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api import views  # noqa: F401 (declares the operations)
from app.api.spec import document
from tests.browser.serving import serving

ORDER = {
    "external_id": "GEN-1",
    "channel": "taobao",
    "currency": "CNY",
    "amount": 128.5,
    "created_at": "2026-11-20T10:00:00+08:00",
    "customer": {"id": "C-1", "name": "李娜", "tier": "gold"},
    "lines": [{"sku": "SKU-1", "qty": 1, "price": 128.5}],
}
EVENT = {
    "source": "erp",
    "event_id": "evt-1",
    "code": "PAYMENT_CONFIRMED",
    "occurred_at": "2026-11-20T11:00:00+08:00",
}


@pytest.fixture
def live_api(app, make_key) -> Iterator[tuple[str, str]]:
    """A server on a loopback port and a key with every scope: (API base URL, key)."""
    key = make_key(owner="integrator")
    with serving(app) as base:
        yield f"{base}/api/v1", key


def _generate(args: list[str], cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603 - the test's own interpreter and arguments
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _spec_file(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document(base)), encoding="utf-8")
    return path


def test_openapi_python_client_creates_lists_and_gets_orders(live_api, tmp_path, monkeypatch):
    base, key = live_api
    spec = _spec_file(tmp_path, base)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run on the output
    output = _generate(
        ["openapi_python_client", "generate", "--path", str(spec), "--config", str(config),
         "--output-path", str(tmp_path / "orderflow_client"), "--meta", "none"],
        tmp_path,
    )  # fmt: skip
    assert "Warning" not in output and "WARNING" not in output, output
    assert "Unable" not in output and "omitted" not in output, output

    monkeypatch.syspath_prepend(str(tmp_path))
    client_mod = importlib.import_module("orderflow_client")
    api = importlib.import_module("orderflow_client.api")
    models = importlib.import_module("orderflow_client.models")
    orders = importlib.import_module(f"{api.__name__}.orders")
    ops = {name: importlib.import_module(f"{orders.__name__}.{name}") for name in
           ("create_order", "list_orders", "get_order", "create_orders")}  # fmt: skip
    status = importlib.import_module(f"{api.__name__}.status_events.post_status_event")
    csv = importlib.import_module(f"{api.__name__}.reference_tables.upload_csv")

    client = client_mod.AuthenticatedClient(
        base_url=base, token=key, raise_on_unexpected_status=True
    )
    with client:
        created = ops["create_order"].sync_detailed(
            client=client, body=models.OrderInput.from_dict(ORDER)
        )
        assert created.status_code == 201
        order = created.parsed
        assert isinstance(order, models.Order)
        assert (order.external_id, order.channel, order.status) == ("GEN-1", "taobao", "created")

        page = ops["list_orders"].sync(client=client, external_id="GEN-1")
        assert [o.id for o in page.items] == [order.id]
        assert isinstance(page.items[0], models.Order)

        fetched = ops["get_order"].sync(client=client, order_id=order.id)
        assert isinstance(fetched, models.Order) and fetched.tracking_id == order.tracking_id

        batch = ops["create_orders"].sync(
            client=client,
            body=models.OrderBatchInput.from_dict({"orders": [{**ORDER, "external_id": "GEN-2"}]}),
        )
        assert [item.external_id for item in batch.items] == ["GEN-2"]

        event = status.sync(
            client=client,
            body=models.StatusEventInput.from_dict({**EVENT, "order": {"id": order.id}}),
        )
        assert isinstance(event, models.StatusEvent)
        assert (event.order_id, event.state, event.effect.value) == (order.id, "paid", "applied")
        assert ops["get_order"].sync(client=client, order_id=order.id).status == "paid"

        put_table = importlib.import_module(f"{api.__name__}.reference_tables.put_table")
        table = {"key_field": "code", "columns": [{"name": "code"}, {"name": "cost"}]}
        put_table.sync(client=client, name="carriers",
                       body=models.ReferenceTableInput.from_dict(table))  # fmt: skip
        upload = client_mod.types.File(
            payload=io.BytesIO(b"code,cost\nSF,12\nYTO,8\n"), file_name="c.csv",
            mime_type="text/csv",
        )  # fmt: skip
        count = csv.sync(client=client, name="carriers", body=models.CsvUpload(file=upload))
        assert (count.rows, count.revision) == (2, 2)


def test_datamodel_code_generator_models_read_the_live_answers(live_api, tmp_path, monkeypatch):
    base, key = live_api
    spec = _spec_file(tmp_path, base)
    output = _generate(
        ["datamodel_code_generator", "--input", str(spec), "--input-file-type", "openapi",
         "--output", str(tmp_path / "orderflow_models.py"),
         "--output-model-type", "pydantic_v2.BaseModel", "--use-title-as-name",
         "--formatters", "builtin", "--target-python-version", "3.11"],
        tmp_path,
    )  # fmt: skip
    assert "warn" not in output.lower(), output

    monkeypatch.syspath_prepend(str(tmp_path))
    models = importlib.import_module("orderflow_models")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}

    def call(method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, base + path, json=body, headers=headers, timeout=30)
        assert answer.status_code < 300, answer.text
        return answer.json()

    sent = models.OrderInput.model_validate(ORDER).model_dump(mode="json", exclude_none=True)
    order = models.Order.model_validate(call("POST", "/orders", sent))
    assert order.external_id == "GEN-1"
    listed = [models.Order.model_validate(o) for o in call("GET", "/orders")["items"]]
    assert [o.id for o in listed] == [order.id]
    assert models.Order.model_validate(call("GET", f"/orders/{order.id}")).id == order.id
    event_in = models.StatusEventInput.model_validate({**EVENT, "order": {"id": order.id}})
    event = models.StatusEvent.model_validate(
        call("POST", "/status-events", event_in.model_dump(mode="json", exclude_none=True))
    )
    assert (event.order_id, event.state) == (order.id, "paid")
