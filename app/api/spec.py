"""The OpenAPI 3.1 document of ``/api/v1``, declared as data next to the views.

Each operation names its scope, parameters, body and responses; the common error responses
are added to every operation. ``tests/app/api/test_openapi.py`` checks that every API route
is described here and runs schemathesis against the document.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from ..security import API_SCOPES
from ._schemas import OBJ, SCHEMAS, STR, Obj, list_of, obj, ref

ERRORS = {
    "400": "The request cannot be read",
    "401": "No API key, an invalid one, or a bad webhook signature",
    "403": "The API key lacks the operation's scope",
    "404": "The resource does not exist",
    "405": "Method not allowed",
    "409": "Conflict with the stored state",
    "413": "The body is larger than the limit (1 MiB by default)",
    "415": "The body is not application/json",
    "422": "Validation failed: details lists each problem with its JSON path",
    "429": "Rate limited: retry after Retry-After seconds",
    "503": "The database stayed busy with other writes (embedded SQLite): nothing was stored; "
    "retry after Retry-After seconds",
}


def _param(name: str, where: str = "query", schema: Obj | None = None, *,
           required: bool = False, description: str = "") -> Obj:  # fmt: skip
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema or STR,
        **({"description": description} if description else {}),
    }


PAGING = [
    _param("limit", schema={"type": "integer", "minimum": 1, "maximum": 200}),
    _param("cursor", description="next_cursor of the previous page"),
]
ORDER_ID = _param("order_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})
KEY = _param("key", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,63}$"})
TABLE = _param("name", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"})
SOURCE = _param("source", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,15}$"})

# (method, path, operationId, summary, scope, parameters, body, {status: schema})
OPERATIONS: list[tuple[str, str, str, str, str | None, list[Obj], Obj | None, Obj]] = [
    ("get", "/me", "me", "The calling key, its name and scopes", "orders:read", [], None,
     {"200": ref("Me")}),
    ("post", "/orders", "create_order", "Create an order (idempotent)", "orders:write",
     [_param("Idempotency-Key", "header", {"type": "string", "maxLength": 128})],
     ref("OrderInput"), {"201": ref("Order"), "200": ref("Order")}),
    ("post", "/orders/batch", "create_orders",
     "Create up to 500 orders in one transaction (all or nothing, idempotent per order)",
     "orders:write", [], ref("OrderBatchInput"),
     {"201": ref("OrderBatchResult"), "200": ref("OrderBatchResult")}),
    ("get", "/orders", "list_orders", "List and search orders, newest first", "orders:read",
     [*PAGING, _param("status"), _param("channel"), _param("external_id"),
      _param("tracking_id"), _param("customer", description="customer id"),
      _param("q", description="external id, tracking id or customer id"),
      _param("created_from", schema={"type": "string", "format": "date-time"}),
      _param("created_to", schema={"type": "string", "format": "date-time"})],
     None, {"200": list_of(ref("Order"), paged=True)}),
    ("get", "/orders/{order_id}", "get_order", "An order with its milestones", "orders:read",
     [ORDER_ID], None, {"200": ref("Order")}),
    ("get", "/orders/{order_id}/status-events", "order_status_events",
     "Status events of an order", "orders:read", [ORDER_ID], None,
     {"200": list_of(ref("StatusEvent"))}),
    ("get", "/orders/{order_id}/runs", "order_runs", "Runs of an order", "runs:read",
     [ORDER_ID], None, {"200": list_of(ref("Run"))}),
    ("get", "/order-schema", "order_schema", "The order JSON Schema with custom fields",
     "orders:read", [], None, {"200": OBJ}),
    ("post", "/status-events", "post_status_event", "Record a status event (idempotent)",
     "orders:write", [], ref("StatusEventInput"),
     {"201": ref("StatusEvent"), "200": ref("StatusEvent")}),
    ("get", "/status-mappings", "status_mappings", "Order states and source code mappings",
     "orders:read", [], None, {"200": ref("StatusMappings")}),
    ("put", "/status-mappings/{source}", "put_status_mapping",
     "Use these codes as the source system's table (replaces a shipped one, or adds a source)",
     "reference:write", [SOURCE], ref("StatusSourceInput"), {"200": ref("StatusSource")}),
    ("delete", "/status-mappings/{source}", "delete_status_mapping",
     "Drop the saved table: a shipped source gets its shipped codes back, an added one is "
     "gone (no codes)", "reference:write", [SOURCE], None, {"200": ref("StatusSource")}),
    ("get", "/flows", "list_flows", "List flows", "flows:read",
     [_param("archived", schema={"type": "boolean"})], None,
     {"200": list_of(ref("Flow"))}),
    ("post", "/flows", "create_flow", "Create a flow from a draft document", "flows:write", [],
     ref("FlowDocument"), {"201": ref("Flow")}),
    ("get", "/flows/{key}", "get_flow", "A flow with its draft", "flows:read", [KEY], None,
     {"200": ref("Flow")}),
    ("put", "/flows/{key}/draft", "save_draft", "Save the draft (revision-checked)",
     "flows:write", [KEY], ref("DraftInput"), {"200": ref("Flow")}),
    ("post", "/flows/{key}/validate", "validate", "Validate the draft or a sent document",
     "flows:read", [KEY], {**ref("FlowDocument"), "x-optional": True},
     {"200": ref("ValidationResult")}),
    ("post", "/flows/{key}/publish", "publish", "Publish the draft as the next version",
     "flows:write", [KEY], {**obj([], note=STR), "x-optional": True},
     {"201": ref("Version")}),
    ("get", "/flows/{key}/versions", "versions", "Published versions, newest first",
     "flows:read", [KEY], None, {"200": list_of(ref("Version"))}),
    ("get", "/flows/{key}/versions/{number}", "version", "One version with its document",
     "flows:read", [KEY, _param("number", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None,
     {"200": ref("Version")}),
    ("get", "/flows/{key}/export", "export", "The flow document (version, live or draft)",
     "flows:read", [KEY, _param("version", schema={"type": "integer", "minimum": 0})], None,
     {"200": ref("FlowDocument")}),
    ("post", "/flows/import", "import_flow", "Create or update a flow from a document",
     "flows:write", [_param("publish", schema={"type": "boolean"})], ref("FlowDocument"),
     {"200": ref("Flow"), "201": ref("Flow")}),
    ("get", "/runs", "list_runs", "List runs, newest first", "runs:read",
     [*PAGING, _param("status"), _param("order_id", schema={"type": "integer", "minimum": 0})],
     None, {"200": list_of(ref("Run"), paged=True)}),
    ("get", "/runs/{run_id}", "get_run", "A run", "runs:read",
     [_param("run_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None, {"200": ref("Run")}),
    ("get", "/runs/{run_id}/timeline", "run_timeline", "A run's audit trail", "runs:read",
     [_param("run_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None,
     {"200": list_of(ref("RunEvent"))}),
    ("get", "/approvals", "my_approvals", "Pending approvals of the key's owner",
     "approvals:write", [], None, {"200": list_of(ref("ApprovalTask"))}),
    ("post", "/approvals/{task_key}/decision", "decide", "Approve or reject a task",
     "approvals:write", [_param("task_key", "path")], ref("DecisionInput"),
     {"200": ref("ApprovalTask")}),
    ("get", "/alerts", "list_alerts", "List alerts, newest first", "alerts:read",
     [*PAGING, _param("status"), _param("severity")], None,
     {"200": list_of(ref("Alert"), paged=True)}),
    ("get", "/alerts/{alert_id}", "get_alert", "An alert", "alerts:read",
     [_param("alert_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None,
     {"200": ref("Alert")}),
    ("get", "/reference-tables", "list_tables", "List reference tables", "flows:read", [],
     None, {"200": list_of(ref("ReferenceTable"))}),
    ("get", "/reference-tables/{name}", "get_table", "A table with its rows", "flows:read",
     [TABLE], None, {"200": ref("ReferenceTable")}),
    ("put", "/reference-tables/{name}", "put_table", "Create or update a table",
     "reference:write", [TABLE], ref("ReferenceTableInput"), {"200": ref("ReferenceTable")}),
    ("post", "/reference-tables/{name}/rows", "upsert_rows", "Insert or update rows by key",
     "reference:write", [TABLE], ref("RowsInput"), {"200": ref("Count")}),
    ("delete", "/reference-tables/{name}/rows/{row_key}", "delete_row", "Delete a row",
     "reference:write", [TABLE, _param("row_key", "path")], None, {"200": ref("Count")}),
    ("post", "/reference-tables/{name}/csv", "upload_csv", "Replace rows from a CSV",
     "reference:write", [TABLE], {"x-media": "text/csv", "type": "string"},
     {"200": ref("Count")}),
    ("post", "/channels/{key}/webhook", "channel_webhook",
     "An order from a sales channel (HMAC-signed, no API key)", None,
     [KEY, _param("X-OrderFlow-Signature", "header", required=True,
                  description="t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>")],
     OBJ, {"201": ref("Order"), "200": ref("Order")}),
]  # fmt: skip


def _operation(op: tuple[Any, ...]) -> Obj:
    _method, path, op_id, summary, scope, params, body, responses = op
    operation: Obj = {
        "operationId": op_id,
        "summary": summary,
        "tags": [path.strip("/").split("/")[0]],
        "parameters": [*params, _param("Accept-Language", "header", {"type": "string",
                                                                      "enum": ["zh", "en"]})],
        "responses": {},
    }  # fmt: skip
    if scope is None:
        operation["security"] = []
    else:
        operation["security"] = [{"bearer": [scope]}, {"apiKeyHeader": [scope]}]
        operation["description"] = f"Scope: `{scope}`."
    if body is not None:
        body = dict(body)
        optional = body.pop("x-optional", False)
        media = body.pop("x-media", "application/json")
        operation["requestBody"] = {"required": not optional,
                                    "content": {media: {"schema": body}}}  # fmt: skip
    for status, schema in responses.items():
        operation["responses"][status] = {
            "description": "OK" if status in ("200", "201") else status,
            "content": {"application/json": {"schema": schema}},
        }
    for status, text in ERRORS.items():
        operation["responses"].setdefault(status, {
            "description": text,
            "content": {"application/json": {"schema": ref("Error")}},
        })  # fmt: skip
    return operation


@cache
def _document(server: str) -> Obj:
    paths: Obj = {}
    for op in OPERATIONS:
        paths.setdefault(op[1], {})[op[0]] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OrderFlow API",
            "version": "1.0.0",
            "description": (
                "Orders in and decisions out. Authenticate with an API key "
                "(`Authorization: Bearer of_...`); each operation needs one scope. Errors "
                "are one JSON shape (`Error`): a stable `code`, a `message` in Chinese or "
                "English by `Accept-Language`, and for validation errors `details` with the "
                "JSON path of each problem. Lists use cursor pagination (`next_cursor`)."
            ),
        },
        "servers": [{"url": server}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API key: of_<prefix>_<secret>. Scopes: "
                    + ", ".join(API_SCOPES),
                },
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },  # fmt: skip
        "paths": paths,
    }


def document(server: str = "/api/v1") -> Obj:
    """The OpenAPI document (a copy: callers may change it)."""
    return copy.deepcopy(_document(server))
