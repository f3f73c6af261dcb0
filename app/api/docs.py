"""The OpenAPI document and its reference page (rendered here, no CDN)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, request

from ._blueprint import bp
from ._http import reply
from .spec import document


@bp.get("/openapi.json")
def openapi() -> Response:
    return reply(document(), 200, {"Access-Control-Allow-Origin": "*"})


def _schema_text(schema: Any) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2)


@bp.get("/docs")
def reference_page() -> str:
    """A readable reference of every operation, generated from the OpenAPI document."""
    doc = document()
    operations = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": "/api/v1" + path,
                    "op": op,
                    "scope": (op["security"][0]["bearer"][0] if op["security"] else None),
                    "body": {m: _schema_text(c["schema"]) for m, c in body.items()},
                    "responses": {
                        code: r["content"]["application/json"]["schema"]
                        for code, r in op["responses"].items()
                    },
                }
            )
    schemas = {name: _schema_text(s) for name, s in doc["components"]["schemas"].items()}
    tags = sorted({o["op"]["tags"][0] for o in operations})
    return render_template(
        "api/reference.html",
        doc=doc,
        operations=operations,
        schemas=schemas,
        tags=tags,
        base=request.host_url.rstrip("/"),
    )
