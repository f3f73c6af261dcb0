"""The OpenAPI 3.1 document of ``/api/v1``, assembled from the declarations on the views.

Every API view is registered through :data:`api` (``@api.get(rule, scope=..., summary=...,
params=..., body=..., responses=...)``): one declaration routes it, requires its API key
scope and describes it in the document; the common error responses are added to every
operation. ``tests/app/api/test_openapi.py`` checks that every API route is described and
runs schemathesis against the document.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from ..channels.services import KEY_RE as CHANNEL_KEY_RE
from ..security import API_SCOPES, api_key_required
from ._blueprint import bp
from ._http import CURSOR_PATTERN
from ._schemas import FLOW_KEY, SCHEMAS, STR, Obj, anchored, ref
from ._schemas import ORG_KEY as _ORG_KEY
from ._schemas import USERNAME as _USERNAME

F = TypeVar("F", bound=Callable[..., Any])

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


def param(name: str, where: str = "query", schema: Obj | None = None, *,
           required: bool = False, description: str = "") -> Obj:  # fmt: skip
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema or STR,
        **({"description": description} if description else {}),
    }


PAGING = [
    param("limit", schema={"type": "integer", "minimum": 1, "maximum": 200}),
    param(
        "cursor",
        schema=anchored(CURSOR_PATTERN),
        description="next_cursor of the previous page (empty: the first page)",
    ),
]


def filter_param(name: str, max_length: int = 128, description: str = "") -> Obj:
    """An exact-match filter (empty: no filter)."""
    return param(name, schema={"type": "string", "maxLength": max_length}, description=description)


ORDER_ID = param("order_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})
KEY = param("key", "path", FLOW_KEY)
CHANNEL = param("key", "path", {"type": "string", "pattern": CHANNEL_KEY_RE.pattern})
IDEMPOTENCY_KEY = param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[ -~]*[!-~][ -~]*$"},
    description="1 to 128 printable ASCII characters",
)
TABLE = param("name", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"})
SUBSCRIPTION_ID = param("subscription_id", "path", {"type": "integer", "minimum": 1,
                                                      "maximum": 2**31 - 1})  # fmt: skip
ORG_KEY = param("key", "path", _ORG_KEY)
USERNAME = param("username", "path", _USERNAME)
SOURCE = param("source", "path", {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,15}$"})

# Any value is accepted, as browsers and HTTP libraries send it; unknown languages fall back.
ACCEPT_LANGUAGE = param(
    "Accept-Language", "header", STR,
    description="Language of error messages, as HTTP clients send it (e.g. "
    "`zh-CN,zh;q=0.9,en;q=0.8`): the supported language (`zh`, `en`) with the highest "
    "q= weight is used; with none of them, or no header, messages are in Chinese (`zh`). "
    "错误信息的语言：按 q= 权重取支持的语言（zh、en），都没有或未发送时为中文。",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Operation:
    """One API operation as the document describes it."""

    method: str
    path: str  # OpenAPI's form: /orders/{order_id}
    op_id: str
    summary: str
    scope: str | None  # None: no API key (a channel's own signature instead)
    params: tuple[Obj, ...]
    body: Obj | None
    responses: Obj


# In the order the views declared them (the modules of app/api/views.py).
OPERATIONS: list[Operation] = []
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


class Routes:
    """``@api.get(rule, scope=..., summary=..., params=(), body=None, responses=...)`` (and
    post, put, patch, delete): route the view on the API blueprint, require an API key with
    ``scope`` (None: none), and describe it in the document under the view's name."""

    def add(
        self,
        method: str,
        rule: str,
        view: Callable[..., Any],
        *,
        scope: str | None,
        summary: str,
        params: Sequence[Obj] = (),
        body: Obj | None = None,
        responses: Obj,
        op_id: str | None = None,
    ) -> Callable[..., Any]:
        """Register ``view`` (``op_id``: its endpoint and operation id, default its name)."""
        name = op_id or view.__name__
        guarded = view if scope is None else api_key_required(scope)(view)
        bp.add_url_rule(rule, name, guarded, methods=[method.upper()])
        path = _CONVERTER.sub(r"{\1}", rule)
        OPERATIONS.append(
            Operation(method, path, name, summary, scope, tuple(params), body, responses)
        )
        _document.cache_clear()
        return guarded

    def _route(self, method: str, rule: str, description: dict[str, Any]) -> Callable[[F], F]:
        def decorator(view: F) -> F:
            return cast(F, self.add(method, rule, view, **description))

        return decorator

    def get(self, rule: str, **description: Any) -> Callable[[F], F]:
        return self._route("get", rule, description)

    def post(self, rule: str, **description: Any) -> Callable[[F], F]:
        return self._route("post", rule, description)

    def put(self, rule: str, **description: Any) -> Callable[[F], F]:
        return self._route("put", rule, description)

    def patch(self, rule: str, **description: Any) -> Callable[[F], F]:
        return self._route("patch", rule, description)

    def delete(self, rule: str, **description: Any) -> Callable[[F], F]:
        return self._route("delete", rule, description)


api = Routes()


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


def _operation(op: Operation) -> Obj:
    path, op_id, summary, scope, body = op.path, op.op_id, op.summary, op.scope, op.body
    operation: Obj = {
        "operationId": op_id,
        "summary": summary,
        "tags": [path.strip("/").split("/")[0]],
        "parameters": [*op.params, ACCEPT_LANGUAGE],
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
    for status, schema in op.responses.items():
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
    if not OPERATIONS:  # an empty document would pass for an API without operations
        raise RuntimeError("no API operation is declared yet: import app.api.views first")
    paths: Obj = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
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


def document(server: str = "/api/v1") -> Obj:
    """The OpenAPI document (a copy: callers may change it)."""
    return copy.deepcopy(_document(server))
