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
from ._http import bool_param, int_param, iso, json_body, reply
from ._schemas import BOOL, OBJ, STR, list_of, obj, ref
from .spec import KEY, api, param


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


@api.get(
    "/flows",
    scope="flows:read",
    summary="List flows",
    params=[param("archived", schema={"type": "boolean"})],
    responses={"200": list_of(ref("Flow"))},
)  # fmt: skip
def list_flows() -> Response:
    archived = bool_param("archived")
    items = flows.list_flows(get_session(), include_archived=archived)
    return reply({"items": [flow_json(f) for f in items]})


@api.post(
    "/flows",
    scope="flows:write",
    summary="Create a flow from a draft document",
    body=ref("FlowDocument"),
    responses={"201": ref("Flow")},
)  # fmt: skip
def create_flow() -> Response:
    db = get_session()
    doc = json_body()
    flow = flows.create_flow(db, None, doc)
    db.commit()
    body = flow_json(flow, with_draft=True)
    body["issues"] = _issues(doc)
    return reply(body, 201)


@api.get(
    "/flows/<flow_key:key>",
    scope="flows:read",
    summary="A flow with its draft",
    params=[KEY],
    responses={"200": ref("Flow")},
)  # fmt: skip
def get_flow(key: str) -> Response:
    return reply(flow_json(flows.get_flow(get_session(), key), with_draft=True))


@api.put(
    "/flows/<flow_key:key>/draft",
    scope="flows:write",
    summary="Save the draft (revision-checked)",
    params=[KEY],
    body=ref("DraftInput"),
    responses={"200": ref("Flow")},
)  # fmt: skip
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


@api.post(
    "/flows/<flow_key:key>/validate",
    scope="flows:read",
    summary="Validate the draft or a sent document",
    params=[KEY],
    body={**OBJ, "x-optional": True},
    responses={"200": ref("ValidationResult")},
)  # fmt: skip
@reads_only
def validate(key: str) -> Response:
    """Validate the stored draft, or the document in the body when one is sent."""
    flow = flows.get_flow(get_session(), key)
    doc = _document() if request.content_length else flow.draft
    issues = _issues(doc) if doc is not None else []
    errors = [i for i in issues if i.get("severity", "error") == "error"]
    return reply({"valid": not errors, "issues": issues})


@api.post(
    "/flows/<flow_key:key>/publish",
    scope="flows:write",
    summary="Publish the draft as the next version; a dry run publishes nothing and reports the other "
     "live flows that would also run on recent orders and what both would do",
    params=[KEY, param("dry_run", schema={"type": "boolean"},
                                 description="true: publish nothing, answer the overlap report"),
                     param("last", schema={"type": "integer", "minimum": 1, "maximum": 2000},
                            description="dry run: how many recent orders to compare (200)")],
    body={**obj([], note=STR, dry_run=BOOL, last={"type": "integer", "minimum": 1, "maximum": 2000}),
      "x-optional": True},
    responses={"201": ref("Version"), "200": ref("PublishDryRun")},
)  # fmt: skip
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


@api.get(
    "/flows/<flow_key:key>/versions",
    scope="flows:read",
    summary="Published versions, newest first",
    params=[KEY],
    responses={"200": list_of(ref("Version"))},
)  # fmt: skip
def versions(key: str) -> Response:
    db = get_session()
    return reply({"items": [version_json(v) for v in _versions(db, flows.get_flow(db, key))]})


@api.get(
    "/flows/<flow_key:key>/versions/<id:number>",
    scope="flows:read",
    summary="One version with its document",
    params=[KEY, param("number", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})],
    responses={"200": ref("Version")},
)  # fmt: skip
def version(key: str, number: int) -> Response:
    db = get_session()
    flow = flows.get_flow(db, key)
    found = db.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.number == number)
    ).first()
    if found is None:
        raise NotFoundError(_l("Flow %(key)s has no version %(n)d.", key=key, n=number))
    return reply(version_json(found, with_doc=True))


@api.get(
    "/flows/<flow_key:key>/export",
    scope="flows:read",
    summary="The flow document (version, live or draft)",
    params=[KEY, param("version", schema={"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                  description="0 or absent: the live version, else the draft")],
    responses={"200": ref("FlowDocument")},
)  # fmt: skip
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


@api.post(
    "/flows/import",
    scope="flows:write",
    summary="Create or update a flow from a document",
    params=[param("publish", schema={"type": "boolean"})],
    body=ref("FlowDocument"),
    responses={"200": ref("Flow"), "201": ref("Flow")},
)  # fmt: skip
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
