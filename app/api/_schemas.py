"""Component schemas of the OpenAPI document (the bodies the API reads and writes)."""

from __future__ import annotations

import copy
from typing import Any

from flow_engine import order_schema

from ..approvals.services import MAX_COMMENT
from ..flows.services import KEY_RE as FLOW_KEY_RE
from ..flows.services import RESERVED_KEYS
from ..order_fields import with_storage_limits
from ..reference.services import COLUMN_TYPES
from ..sales_channels import sales_channels
from ..status.services import states
from ..status.sources import CODE_RE, MAX_CODE
from ..subscriptions import EVENTS
from ..subscriptions.services import MAX_NAME

Obj = dict[str, Any]


def ref(name: str) -> Obj:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> Obj:
    return {"type": [kind, "null"], **extra}


STR, INT, BOOL, OBJ = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "boolean"},
    {"type": "object"},
)
TIME = nullable("string", format="date-time")
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
# Python's "$" (jsonschema's, hypothesis') also matches before a final newline, ECMA's
# does not: patterns ending in "$" say "one line" explicitly so every validator agrees.
ONE_LINE = {"pattern": "\n"}


def anchored(pattern: str, **rules: Any) -> Obj:
    """A string matching ``pattern`` (anchored with ^ and $), with no newline."""
    return {"type": "string", "pattern": pattern, "not": ONE_LINE, **rules}


FLOW_KEY = {
    "type": "string",
    "pattern": FLOW_KEY_RE.pattern,
    "not": {"anyOf": [{"enum": list(RESERVED_KEYS)}, ONE_LINE]},
}
MAX_ROWS_PER_CALL = 10_000
ROWS = {"type": "array", "maxItems": MAX_ROWS_PER_CALL, "items": OBJ}


def text(max_length: int) -> Obj:
    """Text of 1 to ``max_length`` characters, not only white space."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": r"\S"}


def list_of(item: Obj, *, paged: bool = False) -> Obj:
    props: Obj = {"items": {"type": "array", "items": item}}
    if paged:
        props["next_cursor"] = nullable("string")
    return {"type": "object", "required": list(props), "properties": props}


def obj(required: list[str], **props: Any) -> Obj:
    return {"type": "object", "required": required, "properties": props}


def _split_nullable(node: Any) -> Any:
    """``{"type": [T, "null"], **rules}`` as ``anyOf: [{"type": T, **rules}, null]``: the
    same values, in the form generators and fuzzers apply the rules (format, length) to."""
    if isinstance(node, list):
        return [_split_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _split_nullable(value) for key, value in node.items()}
    kinds = node.get("type")
    if isinstance(kinds, list) and len(kinds) == 2 and "null" in kinds:
        (kind,) = [k for k in kinds if k != "null"]
        notes = {k: node.pop(k) for k in ("description", "x-label-zh") if k in node}
        node = {"anyOf": [{**node, "type": kind}, {"type": "null"}], **notes}
    return node


def _order_input() -> Obj:
    schema = with_storage_limits(copy.deepcopy(order_schema()))
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return _split_nullable(schema)


_SUBSCRIPTION_FIELDS: Obj = {
    "name": text(MAX_NAME),
    "url": {"type": "string", "minLength": 1, "maxLength": 2000,
            "description": "http(s) address whose host is on the outbound allowlist"},
    "events": {"type": "array", "minItems": 1, "uniqueItems": True,
               "items": {"type": "string", "enum": list(EVENTS)}},
    "channel": {"anyOf": [{"type": "string", "enum": list(sales_channels())},
                          {"type": "null"}], "description": "Only orders of this sales channel"},
    "active": BOOL,
    "own_secret": {"type": "boolean",
                   "description": "true: sign with a new secret of its own (answered once); "
                   "false: with the host's secret"},
}  # fmt: skip

ORG_KEY = anchored("^[a-z][a-z0-9_]{0,63}$")
USERNAME = anchored("^[A-Za-z0-9_.\\-]{2,64}$")
_DEPARTMENT_FIELDS: Obj = {
    "name_zh": text(128),
    "name_en": {"type": "string", "maxLength": 128},
    "parent": nullable("string", maxLength=64),
    "head": nullable("string", maxLength=64),
}
_ROLE_FIELDS: Obj = {
    "name_zh": text(128),
    "name_en": {"type": "string", "maxLength": 128},
    "scope_table": nullable("string", maxLength=64),
}


def _org_input(required: list[str], **props: Any) -> Obj:
    return {**obj(required, **props), "additionalProperties": False}


# Orders, flows, the organisation and the other resources the API reads and writes.
_RESOURCES: dict[str, Obj] = {
    "Problem": obj(
        ["path", "message"],
        path={
            "type": "string",
            "description": "JSON pointer into the body, ?name for a query parameter",
        },
        message=STR,
        rule={"type": "string"},
        field={"type": "string", "description": "The field's label (orders)"},
        example={"type": "string", "description": "An accepted value as JSON text (orders)"},
    ),
    "Error": obj(
        ["error"],
        error=obj(
            ["code", "message"],
            code={"type": "string", "description": "Stable machine code, e.g. invalid_order"},
            message={"type": "string", "description": "For people, zh or en by Accept-Language"},
            details={"type": "array", "items": ref("Problem")},
        ),
    ),
    "OrderInput": _order_input(),
    "OrderBatchInput": obj(
        ["orders"],
        orders={"type": "array", "minItems": 1, "maxItems": 500, "items": ref("OrderInput")},
    ),
    "OrderBatchResult": obj(
        ["items"],
        items={
            "type": "array",
            "items": {
                "allOf": [
                    ref("Order"),
                    obj(["created", "runs"], created=BOOL, runs={"type": "array", "items": INT}),
                ]
            },
        },
    ),
    "Order": obj(
        ["id", "channel", "external_id", "tracking_id", "status", "created_at"],
        id=INT,
        channel=STR,
        external_id=STR,
        tracking_id=STR,
        tracking_url=STR,
        status=STR,
        customer_id=nullable("string"),
        amount=nullable("number"),
        created_at=TIME,
        updated_at=TIME,
        data=OBJ,
        runs={"type": "array", "items": INT},
        duplicate_of={"type": "string", "enum": ["idempotency_key", "external_id", "dedup_key"]},
        milestones={"type": "array", "items": obj(["state"], state=STR, at=TIME)},
        field_history={
            "type": "array",
            "description": "Order fields flows set (tags, declared custom fields), oldest first",
            "items": obj(
                ["field", "flow_key", "flow_version", "node_id", "changed_at"],
                field={"type": "string", "examples": ["custom.payment_hold", "tags"]},
                before={"description": "The value before (null when it was not set)"},
                after={"description": "The value the flow set"},
                flow_key=STR,
                flow_version=INT,
                node_id=STR,
                node_name=STR,
                run_id=nullable("integer"),
                changed_at=TIME,
            ),
        },
        shipments={
            "type": "array",
            "description": "Merge groups and warehouse allocations the order's flows decided",
            "items": obj(
                ["id", "kind", "status"],
                id=INT,
                kind={"type": "string", "enum": ["merge", "split", "single"]},
                status={"type": "string", "enum": ["open", "released", "cancelled"]},
                warehouse={"type": ["string", "null"]},
                closes_at=TIME,
                lines={"type": "array", "items": OBJ},
                in_shipment={"type": "boolean"},
                orders={"type": "array", "items": STR},
            ),
        },
    ),
    "StatusEventInput": obj(
        ["source", "event_id", "code", "occurred_at", "order"],
        source={
            "type": "string",
            "pattern": "^[a-z][a-z0-9_-]{0,15}$",
            "description": "a source system: erp, wms, tms, carrier, or one an admin added",
        },
        event_id=text(128),
        code=text(64),
        occurred_at={"type": "string", "format": "date-time"},
        order={
            "type": "object",
            "description": "id, tracking_id, or channel + external_id",
            "properties": {
                "id": ID,
                "tracking_id": nullable("string", maxLength=128),
                "channel": nullable("string", maxLength=128),
                "external_id": nullable("string", maxLength=128),
            },
            "anyOf": [
                {"required": ["id"]},
                {"required": ["tracking_id"], "properties": {"tracking_id": {"minLength": 1}}},
                {
                    "required": ["channel", "external_id"],
                    "properties": {"channel": {"minLength": 1}, "external_id": {"minLength": 1}},
                },
            ],
        },
        location={**text(128), "type": ["string", "null"]},
        data={"type": ["object", "null"]},
    ),
    "StatusEvent": obj(
        ["id", "order_id", "source", "event_id", "code", "state", "effect"],
        id=INT,
        order_id=INT,
        source=STR,
        event_id=STR,
        code=STR,
        state=STR,
        effect={"type": "string", "enum": ["applied", "late"]},
        occurred_at=TIME,
        received_at=TIME,
        lag_seconds={"type": "number"},
        location=nullable("string"),
        data=OBJ,
        order_status=STR,
        runs_resumed=INT,
        runs_started=INT,
        duplicate=BOOL,
    ),
    "StatusSourceInput": obj(
        ["codes"],
        codes={
            "type": "object",
            "minProperties": 1,
            "maxProperties": 500,
            "propertyNames": anchored(CODE_RE.pattern, maxLength=MAX_CODE),
            "additionalProperties": {"type": "string", "enum": list(states())},
            "description": "{CODE: order state}; codes are matched upper-case, so each code "
            "once whatever its case",
        },
    ),  # fmt: skip
    "StatusSource": obj(
        ["source", "codes", "shipped", "customised"],
        source=STR,
        codes={"type": "object", "additionalProperties": {"type": "string"}},
        shipped=BOOL,
        customised=BOOL,
    ),
    "StatusMappings": obj(
        ["states", "sources"],
        states={"type": "array", "items": obj(["state"], state=STR, rank=nullable("integer"))},
        sources={"type": "object", "additionalProperties": {"type": "object"}},
    ),  # fmt: skip
    "Flow": obj(
        ["key", "name", "draft_revision"],
        key=STR,
        name=OBJ,
        # As the flow schema allows: text, or the text in each language.
        description={
            "oneOf": [
                STR,
                {
                    "type": "object",
                    "properties": {"en": STR, "zh": STR},
                    "additionalProperties": False,
                },
            ]
        },  # fmt: skip
        draft_revision=INT,
        draft_updated_at=TIME,
        published_version=nullable("integer"),
        archived=BOOL,
        created_at=TIME,
        draft=nullable("object"),
        issues={"type": "array", "items": OBJ},
        published={"type": ["object", "null"]},
    ),
    "FlowDocument": {
        **obj(["key"], key=FLOW_KEY),
        "description": "A flow document (flow.schema.json). Drafts may be incomplete: saving "
        "answers their issues, publishing refuses them.",
    },
    "DraftInput": obj(["base_revision", "draft"], base_revision=INT, draft=ref("FlowDocument")),
    "Version": obj(
        ["number", "digest", "is_live"],
        number=INT,
        digest=STR,
        trigger_event=STR,
        is_live=BOOL,
        note=STR,
        published_at=TIME,
        doc=OBJ,
    ),
    "PublishDryRun": obj(
        ["dry_run", "would_publish", "overlap"],
        dry_run={"const": True},
        would_publish=INT,
        warnings={"type": "array", "items": OBJ},
        overlap=obj(
            ["flow", "event", "orders", "draft_runs", "elapsed_ms", "overlaps"],
            flow=STR,
            event=STR,
            orders=INT,
            draft_runs=INT,
            errors=INT,
            elapsed_ms={"type": "number"},
            overlaps={"type": "array", "items": ref("FlowOverlap")},
        ),
    ),
    "FlowOverlap": {
        **obj(
            ["flow", "both_match", "both_run", "kinds", "summary"],
            flow=STR,
            name=OBJ,
            version=INT,
            both_match=INT,
            both_run=INT,
            kinds=obj(
                ["approval", "webhook", "reservation", "set_field"],
                approval=INT,
                webhook=INT,
                reservation=INT,
                set_field=INT,
            ),
            fields={"type": "array", "items": STR},
            exclusive_group=nullable("string"),
            first=nullable("string"),
            examples={"type": "array", "items": STR},
            summary={"type": "array", "items": STR},
        ),
        "description": "Another live flow on the same trigger event: on how many recent orders "
        "both triggers match, both would run (exclusive groups applied), and per effect kind "
        "on how many of those both would act.",
    },
    "ValidationResult": obj(
        ["valid", "issues"], valid=BOOL, issues={"type": "array", "items": OBJ}
    ),  # fmt: skip
    "Run": obj(
        ["id", "order_id", "status"],
        id=INT,
        order_id=INT,
        flow_version_id=INT,
        status=STR,
        outcome=nullable("string"),
        current_nodes={"type": "array", "items": STR},
        incident=nullable("object"),
        started_at=TIME,
        updated_at=TIME,
        finished_at=TIME,
        vars=OBJ,
    ),
    "RunEvent": obj(
        ["seq", "kind"],
        seq=INT,
        at=TIME,
        kind=STR,
        node_id=nullable("string"),
        node_type=nullable("string"),
        branch=nullable("string"),
        actor=nullable("string"),
        data=OBJ,
    ),  # fmt: skip
    "ApprovalTask": obj(
        ["task_key", "run_id", "status"],
        task_key=STR,
        run_id=INT,
        node_id=STR,
        status=STR,
        assignee=nullable("string"),
        role=nullable("string"),
        due_at=TIME,
        decided_by=nullable("string"),
        decided_at=TIME,
        comment=nullable("string"),
        payload=OBJ,
        created_at=TIME,
    ),  # fmt: skip
    "DecisionInput": {
        **obj(
            ["decision"],
            decision={"type": "string", "enum": ["approved", "rejected"]},
            comment={
                "type": ["string", "null"],
                "maxLength": MAX_COMMENT,
                "description": "required when rejecting",
            },
        ),
        "if": {"properties": {"decision": {"const": "rejected"}}},
        "then": {"required": ["comment"], "properties": {"comment": text(MAX_COMMENT)}},
    },
    "AddApproverInput": obj(
        ["user", "position"],
        user={**text(64), "description": "user name of an active user, e.g. wang"},
        position={
            "type": "string",
            "enum": ["before", "after"],
            "description": "before: they decide first, then it comes back; "
            "after: they approve once the owner approved",
        },
        comment={"type": ["string", "null"], "maxLength": MAX_COMMENT},
    ),  # fmt: skip
    "SendBackInput": {
        **obj(
            ["comment"],
            comment={**text(MAX_COMMENT), "description": "what is missing"},
            to_user={**text(64), "description": "a person asked for more information"},
            to_step={
                **text(128),
                "description": "task key of an earlier approved step "
                "of a one-after-another approval",
            },
            to_node={**text(64), "description": "id of an earlier approval node of the run"},
        ),
        "oneOf": [{"required": ["to_user"]}, {"required": ["to_step"]}, {"required": ["to_node"]}],
    },  # fmt: skip
    "ResubmitInput": obj([], comment={"type": ["string", "null"], "maxLength": MAX_COMMENT}),
    "CopyInput": obj(
        ["users"],
        users={"type": "array", "minItems": 1, "maxItems": 20, "items": text(64)},
        comment={"type": ["string", "null"], "maxLength": MAX_COMMENT},
    ),
    "CommentInput": obj(
        ["comment"],
        comment={**text(MAX_COMMENT), "description": "@username or @display name tells them"},
    ),
    "Commented": obj(
        ["mentioned", "unknown"],
        mentioned={"type": "array", "items": STR},
        unknown={"type": "array", "items": STR},
    ),
    "Alert": obj(
        ["id", "source", "severity", "title", "status"],
        id=INT,
        run_id=nullable("integer"),
        order_id=nullable("integer"),
        source=STR,
        severity=STR,
        title=STR,
        message=STR,
        status=STR,
        data=OBJ,
        created_at=TIME,
        acknowledged_at=TIME,
        resolved_at=TIME,
    ),  # fmt: skip
    "ReferenceTable": obj(
        ["name", "key_field", "revision"],
        name=STR,
        key_field=STR,
        description=STR,
        columns={"type": "array", "items": OBJ},
        revision=INT,
        updated_at=TIME,
        rows={"type": "array", "items": OBJ},
    ),  # fmt: skip
    "ReferenceTableInput": obj(
        [],
        key_field=STR,
        description=STR,
        columns={
            "type": "array",
            "items": obj(["name"], name=STR, type={"type": "string", "enum": list(COLUMN_TYPES)}),
        },
        rows=ROWS,
    ),
    "CsvUpload": obj(
        ["file"],
        file={
            "type": "string",
            "format": "binary",
            "contentMediaType": "text/csv",
            "description": "UTF-8 CSV; its header row names the columns",
        },
    ),
    "RowsInput": obj(["rows"], rows=ROWS),
    "Count": {
        "type": "object",
        "properties": {"upserted": INT, "rows": INT, "revision": INT, "deleted": STR},
    },  # fmt: skip
    "Subscription": obj(
        ["id", "name", "url", "events", "channel", "active", "own_secret"],
        id=INT,
        name=STR,
        url=STR,
        events={"type": "array", "items": STR},
        channel=nullable("string"),
        active=BOOL,
        own_secret=BOOL,
        created_by=nullable("string"),
        created_at=TIME,
        updated_at=TIME,
        secret={"type": "string", "description": "Only when just drawn"},
    ),
    "SubscriptionInput": obj(["name", "url", "events"], **_SUBSCRIPTION_FIELDS),
    "SubscriptionPatch": {**obj([], **_SUBSCRIPTION_FIELDS), "minProperties": 1},
    "Delivery": obj(
        ["id", "status", "attempts"],
        id=INT,
        event_id=nullable("string"),
        type=nullable("string"),
        order_id=nullable("integer"),
        status=STR,
        attempts=INT,
        last_error=nullable("string"),
        response_status=nullable("integer"),
        created_at=TIME,
        next_attempt_at=TIME,
        sent_at=TIME,
    ),
    "Department": obj(
        ["key", "name_zh", "name_en", "parent", "head", "members"],
        key=STR,
        name_zh=STR,
        name_en=STR,
        parent=nullable("string"),
        head=nullable("string"),
        members={"type": "integer", "description": "How many people are in it"},
        depth={"type": "integer", "description": "0 for a top-level department"},
    ),
    "DepartmentInput": _org_input(["key", "name_zh"], key=ORG_KEY, **_DEPARTMENT_FIELDS),
    "DepartmentPatch": _org_input([], **_DEPARTMENT_FIELDS),
    "RoleHolder": obj(
        ["user", "name", "scope", "active"],
        user=STR,
        name=STR,
        scope={"type": "string", "description": '"" for a role without scope'},
        active=BOOL,
    ),
    "BusinessRole": obj(
        ["key", "name_zh", "name_en", "scope_table", "holders"],
        key=STR,
        name_zh=STR,
        name_en=STR,
        scope_table=nullable("string", description="The reference table that scopes it"),
        holders={"type": "array", "items": ref("RoleHolder")},
    ),
    "BusinessRoleInput": _org_input(["key", "name_zh"], key=ORG_KEY, **_ROLE_FIELDS),
    "BusinessRolePatch": _org_input([], **_ROLE_FIELDS),
    "RoleHolderInput": _org_input(
        ["user"],
        user=USERNAME,
        scope={
            "type": "string",
            "maxLength": 64,
            "description": "A key of the role's reference table (empty for a role without scope)",
        },
    ),
    "Person": obj(
        ["username", "display_name", "active", "department", "manager", "roles"],
        username=STR,
        display_name=STR,
        active=BOOL,
        department=nullable("string"),
        manager=nullable("string"),
        roles={"type": "array", "items": STR, "description": "role or role@scope"},
    ),
    "PersonPatch": _org_input(
        [], department=nullable("string", maxLength=64), manager=nullable("string", maxLength=64)
    ),
    "Me": obj(
        ["name", "prefix", "scopes"], name=STR, prefix=STR, scopes={"type": "array", "items": STR}
    ),  # fmt: skip
}


_NULLABLE_TEXT = {"type": ["string", "null"]}
_ACTIONS = {
    "type": "object",
    "description": "What each opening of an alert does besides notifying.",
    "properties": {
        "webhook": {"type": ["object", "null"], "properties": {"url": {"type": "string"}},
                    "description": "Called once per opening through the outbox (signed, retried)."},
        "start_flows": {"type": "boolean",
                        "description": "Start live flows whose trigger is alert.opened."},
    },
}  # fmt: skip
_PANEL = obj(["key", "unit", "total", "series", "estimated"], key={"type": "string"},
                      unit={"type": "string"}, total=OBJ,
                      series={"type": "array", "items": OBJ}, estimated={"type": "boolean"})  # fmt: skip
# The figures', costs' and alert rules' answers.
FIGURE_SCHEMAS: dict[str, Obj] = {
    "DashboardPanel": _PANEL,
    "Dashboard": obj(
        ["range", "panels", "publishes"],
        range=OBJ,
        panels={"type": "object", "additionalProperties": ref("DashboardPanel")},
        publishes={"type": "array", "items": OBJ},
    ),  # fmt: skip
    "Bottlenecks": obj(
        ["flow", "versions", "nodes", "edges"],
        flow={"type": "string"},
        versions={"type": "array", "items": {"type": "integer"}},
        nodes=OBJ,
        edges={"type": "array", "items": OBJ},
        estimated={"type": "boolean"},
        range=OBJ,
    ),  # fmt: skip
    "CostHeatmap": obj(
        ["dimension", "types", "drivers", "cells"],
        dimension={"type": "string"},
        types={"type": "array", "items": OBJ},
        drivers={"type": "array", "items": OBJ},
        cells={"type": "array", "items": OBJ},
        orders={"type": "integer"},
        cost={"type": "number"},
        range=OBJ,
    ),  # fmt: skip
    "OrderCost": obj(
        ["order_id", "items", "total", "types"],
        order_id={"type": "integer"},
        items={"type": "array", "items": OBJ},
        total={"type": "number"},
        types={"type": "array", "items": OBJ},
    ),  # fmt: skip
    "AlertRule": obj(
        ["key", "kind", "definition", "severity"],
        key={"type": "string"},
        name=OBJ,
        description={"type": "string"},
        kind={"type": "string"},
        definition=OBJ,
        severity={"type": "string"},
        recipients={"type": "array", "items": OBJ},
        channels={"type": "array", "items": {"type": "string"}},
        cooldown_seconds={"type": "integer"},
        auto_resolve={"type": "boolean"},
        enabled={"type": "boolean"},
        every_seconds={"type": "integer"},
        source={"type": "string"},
        actions=_ACTIONS,
        last_evaluated_at=_NULLABLE_TEXT,
        last_error=_NULLABLE_TEXT,
    ),  # fmt: skip
}
# Every schema the document names, by name.
SCHEMAS: dict[str, Obj] = {**_RESOURCES, **FIGURE_SCHEMAS}
