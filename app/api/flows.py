"""Flows: list, get, create, save draft, validate, publish, versions, export, import."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..db import get_session, reads_only
from ..errors import NotFoundError, ValidationError
from ..flows import overlap
from ..flows import services as flows
from ..models import Flow, FlowVersion
from ..security import api_key_required
from ._blueprint import bp
from ._http import bool_param, int_param, iso, json_body, reply


def version_json(version: FlowVersion, *, with_doc: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": version.number,
        "digest": version.digest,
        "trigger_event": version.trigger_event,
        "is_live": version.is_live,
        "note": version.note,
        "published_at": iso(version.published_at),
    }
    if with_doc:
        body["doc"] = version.doc
    return body


def flow_json(flow: Flow, *, with_draft: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": flow.key,
        "name": {"zh": flow.name_zh, "en": flow.name_en},
        "description": flow.description,
        "draft_revision": flow.draft_revision,
        "draft_updated_at": iso(flow.draft_updated_at),
        "published_version": flow.published_version,
        "archived": flow.archived_at is not None,
        "created_at": iso(flow.created_at),
    }
    if with_draft:
        body["draft"] = flow.draft
    return body


def _issues(doc: Any) -> list[dict[str, Any]]:
    return [i.to_dict() for i in flows.check(get_session(), doc)]


def _document() -> dict[str, Any]:
    doc = json_body()
    draft = doc.get("draft", doc) if "base_revision" in doc else doc
    if not isinstance(draft, dict):
        raise ValidationError(
            _l("A flow document is a JSON object."),
            code="invalid_flow",
            details=[{"path": "/draft", "message": "expected object", "rule": "type"}],
        )
    return draft


@bp.get("/flows")
@api_key_required("flows:read")
def list_flows() -> Response:
    archived = bool_param("archived")
    items = flows.list_flows(get_session(), include_archived=archived)
    return reply({"items": [flow_json(f) for f in items]})


@bp.post("/flows")
@api_key_required("flows:write")
def create_flow() -> Response:
    db = get_session()
    doc = json_body()
    flow = flows.create_flow(db, None, doc)
    db.commit()
    body = flow_json(flow, with_draft=True)
    body["issues"] = _issues(doc)
    return reply(body, 201)


@bp.get("/flows/<flow_key:key>")
@api_key_required("flows:read")
def get_flow(key: str) -> Response:
    return reply(flow_json(flows.get_flow(get_session(), key), with_draft=True))


@bp.put("/flows/<flow_key:key>/draft")
@api_key_required("flows:write")
def save_draft(key: str) -> Response:
    """Save the draft; ``base_revision`` must be the revision the caller started from."""
    db = get_session()
    body = json_body()
    base = body.get("base_revision")
    if not isinstance(base, int) or isinstance(base, bool) or not 0 <= base < 2**31:
        raise ValidationError(
            _l("base_revision (the draft revision you edited) is required."),
            code="invalid_body",
            details=[{"path": "/base_revision", "message": "integer", "rule": "required"}],
        )
    draft = body.get("draft")
    if not isinstance(draft, dict):
        raise ValidationError(
            _l("A flow document is a JSON object."),
            code="invalid_flow",
            details=[{"path": "/draft", "message": "expected object", "rule": "type"}],
        )
    flow, _ = flows.save_draft(db, None, flows.get_flow(db, key), draft, base_revision=base)
    db.commit()
    result = flow_json(flow, with_draft=True)
    result["issues"] = _issues(draft)
    return reply(result)


@bp.post("/flows/<flow_key:key>/validate")
@reads_only
@api_key_required("flows:read")
def validate(key: str) -> Response:
    """Validate the stored draft, or the document in the body when one is sent."""
    flow = flows.get_flow(get_session(), key)
    doc = _document() if request.content_length else flow.draft
    issues = _issues(doc) if doc is not None else []
    errors = [i for i in issues if i.get("severity", "error") == "error"]
    return reply({"valid": not errors, "issues": issues})


@bp.post("/flows/<flow_key:key>/publish")
@api_key_required("flows:write")
def publish(key: str) -> Response:
    """Publish the draft; a dry run (``?dry_run=true`` or ``"dry_run": true``) publishes
    nothing and answers which other live flows would also run on recent orders."""
    db = get_session()
    body = json_body() if request.content_length else {}
    note = str(body.get("note") or "")[:500]
    flow = flows.get_flow(db, key)
    if bool_param("dry_run") or _body_flag(body, "dry_run"):
        last = _body_int(
            body, "last", int_param("last", overlap.DEFAULT_LAST, high=overlap.MAX_LAST)
        )
        compiled = flows.publishable(flow)
        report = overlap.overlap_report(db, flow, compiled, last=last)
        return reply(
            {
                "dry_run": True,
                "would_publish": (flow.published_version or 0) + 1,
                "warnings": [i.to_dict() for i in compiled.warnings],
                "overlap": overlap.report_json(report),
            }
        )
    version = flows.publish(db, None, flow, note=note)
    db.commit()
    return reply(version_json(version), 201)


def _body_flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ValidationError(
            _l("%(name)s must be true or false.", name=name),
            code="invalid_body",
            details=[{"path": f"/{name}", "message": "expected boolean", "rule": "type"}],
        )
    return value


def _body_int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if type(value) is not int or not 1 <= value <= overlap.MAX_LAST:
        raise ValidationError(
            _l(
                "%(name)s must be a whole number from 1 to %(high)d, e.g. 200.",
                name=name,
                high=overlap.MAX_LAST,
            ),
            code="invalid_body",
            details=[{"path": f"/{name}", "message": "integer 1..2000", "rule": "range"}],
        )
    return value


def _versions(db: Any, flow: Flow) -> list[FlowVersion]:
    return list(
        db.scalars(
            select(FlowVersion)
            .where(FlowVersion.flow_id == flow.id)
            .order_by(FlowVersion.number.desc())
        )
    )


@bp.get("/flows/<flow_key:key>/versions")
@api_key_required("flows:read")
def versions(key: str) -> Response:
    db = get_session()
    return reply({"items": [version_json(v) for v in _versions(db, flows.get_flow(db, key))]})


@bp.get("/flows/<flow_key:key>/versions/<id:number>")
@api_key_required("flows:read")
def version(key: str, number: int) -> Response:
    db = get_session()
    flow = flows.get_flow(db, key)
    found = db.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.number == number)
    ).first()
    if found is None:
        raise NotFoundError(_l("Flow %(key)s has no version %(n)d.", key=key, n=number))
    return reply(version_json(found, with_doc=True))


@bp.get("/flows/<flow_key:key>/export")
@api_key_required("flows:read")
def export(key: str) -> Response:
    """The flow document: a given ``version``, else the live one, else the draft."""
    db = get_session()
    flow = flows.get_flow(db, key)
    number = int_param("version", 0, low=0)
    if number:
        found = next((v for v in _versions(db, flow) if v.number == number), None)
        if found is None:
            raise NotFoundError(_l("Flow %(key)s has no version %(n)d.", key=key, n=number))
        doc: dict[str, Any] | None = found.doc
    else:
        live = flows.live_version(db, flow)
        doc = live.doc if live is not None else flow.draft
    headers = {"Content-Disposition": f'attachment; filename="{key}.flow.json"'}
    return reply(doc or {}, 200, headers)


@bp.post("/flows/import")
@api_key_required("flows:write")
def import_flow() -> Response:
    """Create or update a flow from a document; ``?publish=true`` publishes it too."""
    db = get_session()
    doc = json_body()
    publish_now = bool_param("publish")
    flow, version = flows.import_flow(db, None, doc, publish_now=publish_now)
    db.commit()
    body = flow_json(flow)
    body["published"] = version_json(version) if version is not None else None
    return reply(body, 201 if version is not None else 200)
