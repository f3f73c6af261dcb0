"""The OpenAPI 3.1 document of ``/api/v1``, declared as data next to the views.

Each operation names its scope, parameters, body and responses; the common error responses
are added to every operation. ``tests/app/api/test_openapi.py`` checks that every API route
is described here and runs schemathesis against the document.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from ..channels.services import KEY_RE as CHANNEL_KEY_RE
from ..security import API_SCOPES
from ._http import CURSOR_PATTERN
from ._schemas import BOOL, FLOW_KEY, OBJ, SCHEMAS, STR, Obj, anchored, list_of, obj, ref
from ._schemas import ORG_KEY as _ORG_KEY
from ._schemas import USERNAME as _USERNAME

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
    _param(
        "cursor",
        schema=anchored(CURSOR_PATTERN),
        description="next_cursor of the previous page (empty: the first page)",
    ),
]


def _filter(name: str, max_length: int = 128, description: str = "") -> Obj:
    """An exact-match filter (empty: no filter)."""
    return _param(name, schema={"type": "string", "maxLength": max_length}, description=description)


ORDER_ID = _param("order_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})
KEY = _param("key", "path", FLOW_KEY)
CHANNEL = _param("key", "path", {"type": "string", "pattern": CHANNEL_KEY_RE.pattern})
IDEMPOTENCY_KEY = _param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[ -~]*[!-~][ -~]*$"},
    description="1 to 128 printable ASCII characters",
)
TABLE = _param("name", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"})
SUBSCRIPTION_ID = _param("subscription_id", "path", {"type": "integer", "minimum": 1,
                                                      "maximum": 2**31 - 1})  # fmt: skip
ORG_KEY = _param("key", "path", _ORG_KEY)
USERNAME = _param("username", "path", _USERNAME)
SOURCE = _param("source", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,15}$"})

# Any value is accepted, as browsers and HTTP libraries send it; unknown languages fall back.
ACCEPT_LANGUAGE = _param(
    "Accept-Language", "header", STR,
    description="Language of error messages, as HTTP clients send it (e.g. "
    "`zh-CN,zh;q=0.9,en;q=0.8`): the supported language (`zh`, `en`) with the highest "
    "q= weight is used; with none of them, or no header, messages are in Chinese (`zh`). "
    "错误信息的语言：按 q= 权重取支持的语言（zh、en），都没有或未发送时为中文。",
)  # fmt: skip

# (method, path, operationId, summary, scope, parameters, body, {status: schema})
OPERATIONS: list[tuple[str, str, str, str, str | None, list[Obj], Obj | None, Obj]] = [
    ("get", "/me", "me", "The calling key, its name and scopes", "orders:read", [], None,
     {"200": ref("Me")}),
    ("post", "/orders", "create_order", "Create an order (idempotent)", "orders:write",
     [IDEMPOTENCY_KEY],
     ref("OrderInput"), {"201": ref("Order"), "200": ref("Order")}),
    ("post", "/orders/batch", "create_orders",
     "Create up to 500 orders in one transaction (all or nothing, idempotent per order)",
     "orders:write", [], ref("OrderBatchInput"),
     {"201": ref("OrderBatchResult"), "200": ref("OrderBatchResult")}),
    ("get", "/orders", "list_orders", "List and search orders, newest first", "orders:read",
     [*PAGING, _filter("status"), _filter("channel"), _filter("external_id"),
      _filter("tracking_id"), _filter("customer", description="customer id"),
      _filter("q", description="external id, tracking id or customer id"),
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
    ("get", "/subscriptions", "list_subscriptions", "Outbound order event subscriptions",
     "subscriptions:read", [], None, {"200": list_of(ref("Subscription"))}),
    ("post", "/subscriptions", "create_subscription",
     "Subscribe an allowed endpoint to order events", "subscriptions:write", [],
     ref("SubscriptionInput"), {"201": ref("Subscription")}),
    ("get", "/subscriptions/{subscription_id}", "get_subscription", "A subscription",
     "subscriptions:read", [SUBSCRIPTION_ID], None, {"200": ref("Subscription")}),
    ("patch", "/subscriptions/{subscription_id}", "update_subscription",
     "Change a subscription (pause with active: false)", "subscriptions:write",
     [SUBSCRIPTION_ID], ref("SubscriptionPatch"), {"200": ref("Subscription")}),
    ("delete", "/subscriptions/{subscription_id}", "delete_subscription",
     "Delete a subscription (its messages not sent yet are dropped)", "subscriptions:write",
     [SUBSCRIPTION_ID], None, {"200": ref("Subscription")}),
    ("get", "/subscriptions/{subscription_id}/deliveries", "subscription_deliveries",
     "The subscription's recent messages, newest first", "subscriptions:read",
     [SUBSCRIPTION_ID], None, {"200": list_of(ref("Delivery"))}),
    ("get", "/org/departments", "list_departments", "Departments as a tree, parents first",
     "org:read", [], None, {"200": list_of(ref("Department"))}),
    ("post", "/org/departments", "create_department", "Create a department", "org:write", [],
     ref("DepartmentInput"), {"201": ref("Department")}),
    ("get", "/org/departments/{key}", "get_department", "A department", "org:read",
     [ORG_KEY], None, {"200": ref("Department")}),
    ("patch", "/org/departments/{key}", "update_department",
     "Change a department's names, parent or head (null clears)", "org:write", [ORG_KEY],
     ref("DepartmentPatch"), {"200": ref("Department")}),
    ("delete", "/org/departments/{key}", "delete_department",
     "Delete a department without people, sub-departments or flows naming it", "org:write",
     [ORG_KEY], None, {"200": ref("Department")}),
    ("get", "/org/roles", "list_roles", "Business roles with their holders", "org:read", [],
     None, {"200": list_of(ref("BusinessRole"))}),
    ("post", "/org/roles", "create_role", "Create a business role", "org:write", [],
     ref("BusinessRoleInput"), {"201": ref("BusinessRole")}),
    ("get", "/org/roles/{key}", "get_role", "A business role", "org:read", [ORG_KEY], None,
     {"200": ref("BusinessRole")}),
    ("patch", "/org/roles/{key}", "update_role",
     "Change a business role's names, or its scope while nobody holds it", "org:write",
     [ORG_KEY], ref("BusinessRolePatch"), {"200": ref("BusinessRole")}),
    ("delete", "/org/roles/{key}", "delete_role",
     "Delete a business role no flow assigns (its holders go with it)", "org:write", [ORG_KEY],
     None, {"200": ref("BusinessRole")}),
    ("get", "/org/roles/{key}/holders", "role_holders", "Who holds a business role",
     "org:read", [ORG_KEY], None, {"200": list_of(ref("RoleHolder"))}),
    ("post", "/org/roles/{key}/holders", "add_holder",
     "Let a person hold the role (for a scope key of its reference table)", "org:write",
     [ORG_KEY], ref("RoleHolderInput"), {"201": list_of(ref("RoleHolder"))}),
    ("delete", "/org/roles/{key}/holders/{username}", "remove_holder",
     "A person no longer holds the role (for the scope given)", "org:write",
     [ORG_KEY, USERNAME, _param("scope", schema={"type": "string", "maxLength": 64})], None,
     {"200": list_of(ref("RoleHolder"))}),
    ("get", "/org/people", "list_people",
     "People with their department, manager and business roles", "org:read",
     [_filter("department", 64, "only the members of this department")], None,
     {"200": list_of(ref("Person"))}),
    ("get", "/org/people/{username}", "get_person", "A person", "org:read", [USERNAME], None,
     {"200": ref("Person")}),
    ("patch", "/org/people/{username}", "update_person",
     "Change a person's department or manager (null clears)", "org:write", [USERNAME],
     ref("PersonPatch"), {"200": ref("Person")}),
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
     "flows:read", [KEY], {**OBJ, "x-optional": True},
     {"200": ref("ValidationResult")}),
    ("post", "/flows/{key}/publish", "publish",
     "Publish the draft as the next version; a dry run publishes nothing and reports the other "
     "live flows that would also run on recent orders and what both would do",
     "flows:write", [KEY, _param("dry_run", schema={"type": "boolean"},
                                 description="true: publish nothing, answer the overlap report"),
                     _param("last", schema={"type": "integer", "minimum": 1, "maximum": 2000},
                            description="dry run: how many recent orders to compare (200)")],
     {**obj([], note=STR, dry_run=BOOL, last={"type": "integer", "minimum": 1, "maximum": 2000}),
      "x-optional": True},
     {"201": ref("Version"), "200": ref("PublishDryRun")}),
    ("get", "/flows/{key}/versions", "versions", "Published versions, newest first",
     "flows:read", [KEY], None, {"200": list_of(ref("Version"))}),
    ("get", "/flows/{key}/versions/{number}", "version", "One version with its document",
     "flows:read", [KEY, _param("number", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None,
     {"200": ref("Version")}),
    ("get", "/flows/{key}/export", "export", "The flow document (version, live or draft)",
     "flows:read", [KEY, _param("version", schema={"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                  description="0 or absent: the live version, else the draft")], None,
     {"200": ref("FlowDocument")}),
    ("post", "/flows/import", "import_flow", "Create or update a flow from a document",
     "flows:write", [_param("publish", schema={"type": "boolean"})], ref("FlowDocument"),
     {"200": ref("Flow"), "201": ref("Flow")}),
    ("get", "/runs", "list_runs", "List runs, newest first", "runs:read",
     [*PAGING, _filter("status", 16),
      _param("order_id", schema={"type": "integer", "minimum": 0, "maximum": 2**31 - 1})],
     None, {"200": list_of(ref("Run"), paged=True)}),
    ("get", "/runs/{run_id}", "get_run", "A run", "runs:read",
     [_param("run_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None, {"200": ref("Run")}),
    ("get", "/runs/{run_id}/timeline", "run_timeline", "A run's audit trail", "runs:read",
     [_param("run_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})], None,
     {"200": list_of(ref("RunEvent"))}),
    ("get", "/approvals", "my_approvals", "Pending approvals of the key's owner, or those copied to them",
     "approvals:write", [_param("box", schema={"type": "string", "enum": ["pending", "cc"]},
                                description="pending (default): waiting for the owner; cc: copied to them (抄送) or mentioned")],
     None, {"200": list_of(ref("ApprovalTask"))}),
    ("post", "/approvals/{task_key}/decision", "decide", "Approve or reject a task",
     "approvals:write", [_param("task_key", "path")], ref("DecisionInput"),
     {"200": ref("ApprovalTask")}),
    ("post", "/approvals/{task_key}/add-approver", "add_approver",
     "加签: add an approver before or after the key's owner", "approvals:write",
     [_param("task_key", "path")], ref("AddApproverInput"), {"200": ref("ApprovalTask")}),
    ("post", "/approvals/{task_key}/send-back", "send_back",
     "退回: send a task back to a person, an earlier step or an earlier approval",
     "approvals:write", [_param("task_key", "path")], ref("SendBackInput"),
     {"200": ref("ApprovalTask")}),
    ("post", "/approvals/{task_key}/resubmit", "resubmit",
     "Resubmit a request for more information; the step opens again", "approvals:write",
     [_param("task_key", "path")], ref("ResubmitInput"), {"200": list_of(ref("ApprovalTask"))}),
    ("post", "/approvals/{task_key}/cc", "copy_approval", "抄送: let colleagues read a task",
     "approvals:write", [_param("task_key", "path")], ref("CopyInput"),
     {"200": ref("ApprovalTask")}),
    ("post", "/approvals/{task_key}/comments", "comment_approval",
     "Comment on a task; @mentioned users are told", "approvals:write",
     [_param("task_key", "path")], ref("CommentInput"), {"201": ref("Commented")}),
    ("get", "/alerts", "list_alerts", "List alerts, newest first", "alerts:read",
     [*PAGING, _filter("status", 16), _filter("severity", 16)], None,
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
    ("post", "/reference-tables/{name}/csv", "upload_csv",
     "Replace rows from a CSV (a file part named file; a text/csv body is accepted too)",
     "reference:write", [TABLE], {"x-media": "multipart/form-data", **ref("CsvUpload")},
     {"200": ref("Count")}),
    ("post", "/channels/{key}/webhook", "channel_webhook",
     "An order or order event from a sales channel, signed the platform's way (Shopify, "
     "WooCommerce, Youzan, Douyin shop, generic HMAC) or OrderFlow's way; no API key",
     None,
     [CHANNEL, _param("X-OrderFlow-Signature", "header", required=False,
                  description="t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>; "
                              "platform kinds use their own header instead")],
     OBJ, {"201": ref("Order"), "200": ref("Order"), "202": OBJ}),
]  # fmt: skip


_ORDER = {"order_id": "$response.body#/id"}
_FIRST_ORDER = {"order_id": "$response.body#/items/0/id"}
_FLOW = {"key": "$response.body#/key"}
_TABLE = {"name": "$request.path.name"}
_SUBSCRIPTION = {"subscription_id": "$response.body#/id"}
_DEPARTMENT = {"key": "$response.body#/key"}
# Where a client goes next with what an answer gave it: OpenAPI links on the 2xx answers
# (the stateful phase of the schemathesis run follows them). {operationId: {target: params}}
LINKS: dict[str, dict[str, dict[str, str]]] = {
    "create_order": {"get_order": _ORDER, "order_status_events": _ORDER, "order_runs": _ORDER,
                     "order_cost": _ORDER, "post_status_event": {}},
    "list_orders": {"get_order": _FIRST_ORDER, "order_status_events": _FIRST_ORDER},
    "post_status_event": {"get_order": {"order_id": "$response.body#/order_id"},
                          "order_status_events": {"order_id": "$response.body#/order_id"}},
    "create_flow": {"get_flow": _FLOW, "save_draft": _FLOW, "validate": _FLOW, "publish": _FLOW,
                    "versions": _FLOW, "export": _FLOW, "flow_bottlenecks": _FLOW},
    "import_flow": {"get_flow": _FLOW, "versions": _FLOW},
    "save_draft": {"validate": _FLOW, "publish": _FLOW},
    "publish": {"version": {"key": "$request.path.key", "number": "$response.body#/number"},
                "export": {"key": "$request.path.key", "version": "$response.body#/number"}},
    "list_flows": {"get_flow": {"key": "$response.body#/items/0/key"}},
    "put_table": {"get_table": _TABLE, "upsert_rows": _TABLE, "upload_csv": _TABLE},
    "upsert_rows": {"get_table": _TABLE},
    "list_tables": {"get_table": {"name": "$response.body#/items/0/name"}},
    "list_runs": {"get_run": {"run_id": "$response.body#/items/0/id"},
                  "run_timeline": {"run_id": "$response.body#/items/0/id"}},
    "list_alerts": {"get_alert": {"alert_id": "$response.body#/items/0/id"}},
    "put_status_mapping": {"delete_status_mapping": {"source": "$request.path.source"}},
    "create_department": {"get_department": _DEPARTMENT, "update_department": _DEPARTMENT,
                          "delete_department": _DEPARTMENT},
    "create_role": {"get_role": _DEPARTMENT, "update_role": _DEPARTMENT,
                    "role_holders": _DEPARTMENT, "add_holder": _DEPARTMENT},
    "create_subscription": {"get_subscription": _SUBSCRIPTION, "update_subscription": _SUBSCRIPTION,
                            "subscription_deliveries": _SUBSCRIPTION,
                            "delete_subscription": _SUBSCRIPTION},
}  # fmt: skip
# Operations whose links hold for one answer only (a publish dry run has no version number).
LINK_STATUS = {"publish": "201"}


# Bodies of linked requests (merged into generated ones): the answer's values a client
# sends on, e.g. a status event for the order just created.
LINK_BODIES: dict[tuple[str, str], Obj] = {
    ("create_order", "post_status_event"): {
        "source": "erp", "code": "PAYMENT_CONFIRMED", "order": {"id": "$response.body#/id"},
    },
    ("create_flow", "save_draft"): {
        "base_revision": "$response.body#/draft_revision", "draft": "$response.body#/draft",
    },
}  # fmt: skip


def _links(op_id: str) -> Obj:
    links = {}
    for target, params in LINKS.get(op_id, {}).items():
        link: Obj = {"operationId": target, "parameters": params}
        if (op_id, target) in LINK_BODIES:
            link["requestBody"] = LINK_BODIES[op_id, target]
        links[target] = link
    return links


def _operation(op: tuple[Any, ...]) -> Obj:
    _method, path, op_id, summary, scope, params, body, responses = op
    operation: Obj = {
        "operationId": op_id,
        "summary": summary,
        "tags": [path.strip("/").split("/")[0]],
        "parameters": [*params, ACCEPT_LANGUAGE],
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
        if status.startswith("2") and op_id in LINKS and LINK_STATUS.get(op_id, status) == status:
            operation["responses"][status]["links"] = _links(op_id)
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
            # Generators name models by title: the order schema's own title ("Order") would
            # clash with the Order answer, so each component is titled with its unique name.
            "schemas": {name: {**schema, "title": name} for name, schema in SCHEMAS.items()},
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


def declare(operations: list[tuple[Any, ...]], schemas: dict[str, Obj]) -> None:
    """Add a resource module's operations and schemas to the document (at start-up, by the
    API package that registers the module's routes)."""
    known = {op[2] for op in OPERATIONS}
    SCHEMAS.update(schemas)
    OPERATIONS.extend(op for op in operations if op[2] not in known)
    _document.cache_clear()  # the document is built once, on first use


def document(server: str = "/api/v1") -> Obj:
    """The OpenAPI document (a copy: callers may change it)."""
    return copy.deepcopy(_document(server))
