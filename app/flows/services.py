"""Flows: drafts that people edit, versions that orders run on.

A draft may be saved with problems (work in progress, autosave); publishing compiles it and
refuses it while any error remains. A published version is never changed: publishing again
adds the next version, and runs stay on the version they started with.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, object_session

from flow_engine import (
    CompiledFlow,
    FlowError,
    FlowValidationError,
    ValidationIssue,
    compile_flow,
    flow_digest,
    migrate,
    normalise_durations,
    validate_flow,
)

from .. import order_fields as order_schema
from ..db import rows_matched
from ..errors import ConflictError, NotFoundError, ValidationError
from ..models import Flow, FlowVersion, User, utcnow
from ..org import checks as org_checks
from ..org.directory import directory_cache

log = logging.getLogger(__name__)
# A flow's key: in URLs and stored in a 64-character column. /flows/import is a route of
# its own, so no flow may be called import.
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
RESERVED_KEYS = ("import",)


def _issues_error(issues: list[ValidationIssue] | tuple[ValidationIssue, ...]) -> ValidationError:
    errors = [i.to_dict() for i in issues if i.severity == "error"]
    return ValidationError(
        _l("The flow has %(n)d problems; fix them before publishing.", n=len(errors)),
        code="invalid_flow",
        details=errors,
    )


def check(db: Session, doc: Any, schema: Mapping[str, Any] | None = None) -> list[ValidationIssue]:
    """Every problem of ``doc`` as the doors see it (editor, save, publish, API, import, CLI):
    the engine's checks against the order with its custom fields, then every person, business
    role and department the flow names, against the organisation."""
    issues = validate_flow(doc, order_schema.effective_schema(db) if schema is None else schema)
    if isinstance(doc, Mapping):
        issues += org_checks.check_flow(doc, directory_cache.get(db))
    return issues


def get_flow(db: Session, key: str) -> Flow:
    flow = db.scalars(select(Flow).where(Flow.key == key)).one_or_none()
    if flow is None:
        raise NotFoundError(_l("There is no flow with the key %(key)s.", key=key))
    return flow


def _content(doc: Mapping[str, Any]) -> str:
    """A flow document without what the editor's canvas changes by itself: node positions,
    the order of nodes and edges, an empty ``config`` left out."""
    nodes = [
        {k: v for k, v in n.items() if k != "position"} | {"config": n.get("config") or {}}
        for n in doc["nodes"]
    ]
    content = {
        **doc,
        "nodes": sorted(nodes, key=lambda n: str(n.get("id"))),
        "edges": sorted(doc["edges"], key=lambda e: str(e.get("id"))),
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)


def is_stored_doc(db: Session, flow: Flow, doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` is the flow's saved draft or one of its published versions as the
    editor sends it back: what a user who may not edit the flow may still run."""
    try:
        content = _content(doc)
    except (KeyError, TypeError, AttributeError, ValueError):  # not a flow document at all
        return False
    stored = [flow.draft] if flow.draft is not None else []
    stored += db.scalars(select(FlowVersion.doc).where(FlowVersion.flow_id == flow.id))
    return any(_content(other) == content for other in stored)


def list_flows(db: Session, *, include_archived: bool = False) -> list[Flow]:
    query = select(Flow).order_by(Flow.key)
    if not include_archived:
        query = query.where(Flow.archived_at.is_(None))
    return list(db.scalars(query))


def _key_of(doc: Mapping[str, Any]) -> str:
    key = doc.get("key") if isinstance(doc, Mapping) else None
    if not isinstance(key, str) or not key:
        raise ValidationError(
            _l("The flow document has no key."), code="invalid_flow", fields={"key": "missing"}
        )
    if not KEY_RE.fullmatch(key):
        raise ValidationError(
            _l("The key uses lowercase letters, digits, - _ . (up to 64)."),
            code="invalid_flow",
            fields={"key": KEY_RE.pattern},
        )
    if key in RESERVED_KEYS:
        raise ValidationError(
            _l("%(key)s is reserved; choose another key, e.g. %(key)s_orders.", key=key),
            code="invalid_flow",
            fields={"key": "reserved"},
        )
    return key


def _names(doc: Mapping[str, Any]) -> tuple[str, str]:
    name = doc.get("name") or {}
    if isinstance(name, str):
        return name, name
    return str(name.get("zh") or name.get("en") or ""), str(name.get("en") or name.get("zh") or "")


def _description(doc: Mapping[str, Any]) -> str | dict[str, str]:
    # A draft may be saved with schema errors; only text or the {"en", "zh"} texts are kept.
    text = doc.get("description")
    if isinstance(text, Mapping):
        return {lang: text[lang] for lang in ("en", "zh") if isinstance(text.get(lang), str)}
    return text if isinstance(text, str) else ""


def create_flow(db: Session, actor: User | None, doc: Mapping[str, Any]) -> Flow:
    """Create a flow whose draft is ``doc``. Raises ConflictError if the key exists."""
    key = _key_of(doc)
    doc = normalise_durations(doc)
    if db.scalars(select(Flow.id).where(Flow.key == key)).first() is not None:
        raise ConflictError(_l("A flow with the key %(key)s exists already.", key=key))
    name_zh, name_en = _names(doc)
    flow = Flow(
        key=key,
        name_zh=name_zh,
        name_en=name_en,
        description=_description(doc),
        owner_id=actor.id if actor else None,
        draft=dict(doc),
        draft_revision=1,
        draft_updated_at=utcnow(),
        draft_updated_by_id=actor.id if actor else None,
    )
    db.add(flow)
    db.flush()
    log.info("flow %s created by %s", key, actor.username if actor else "system")
    return flow


def save_draft(
    db: Session, actor: User | None, flow: Flow, doc: Mapping[str, Any], *, base_revision: int
) -> tuple[Flow, list[ValidationIssue]]:
    """Save ``doc`` as the draft if nobody saved since ``base_revision``; return the issues.

    Two people editing the same draft: the second save names a revision that is no longer
    current and is refused, so nobody silently overwrites the other.
    """
    if _key_of(doc) != flow.key:
        raise ValidationError(
            _l("The key of a flow cannot change."), code="invalid_flow", fields={"key": "changed"}
        )
    doc = normalise_durations(doc)
    updated = rows_matched(
        db,
        update(Flow)
        .where(Flow.id == flow.id, Flow.draft_revision == base_revision)
        .values(
            draft=dict(doc),
            draft_revision=Flow.draft_revision + 1,
            draft_updated_at=utcnow(),
            draft_updated_by_id=actor.id if actor else None,
            name_zh=_names(doc)[0],
            name_en=_names(doc)[1],
            description=_description(doc),
        )
        .execution_options(synchronize_session=False),
    )
    if updated != 1:
        raise ConflictError(
            _l("Someone else saved this flow since you opened it. Reload to see their changes."),
            code="draft_conflict",
        )
    db.refresh(flow)
    return flow, check(db, doc)


def publishable(flow: Flow) -> CompiledFlow:
    """The draft compiled as publishing compiles it; raises what :func:`publish` would."""
    if flow.draft is None:
        raise ValidationError(_l("There is no draft to publish."), code="no_draft")
    try:
        compiled = compile_flow(flow.draft, publishing=True)
    except FlowValidationError as err:
        raise _issues_error(err.issues) from err
    except FlowError as err:
        raise ValidationError(str(err), code="invalid_flow") from err
    db = object_session(flow)
    unknown = org_checks.check_flow(flow.draft, directory_cache.get(db)) if db else []
    if unknown:  # a task for a key nobody holds would wait for nobody
        raise _issues_error(unknown)
    return compiled


def publish(db: Session, actor: User | None, flow: Flow, *, note: str = "") -> FlowVersion:
    """Publish the draft as the next immutable version; new orders start on it."""
    compiled = publishable(flow)
    doc = migrate(flow.draft)  # type: ignore[arg-type]  # publishable() refused a missing draft
    number = (
        db.scalar(select(func.max(FlowVersion.number)).where(FlowVersion.flow_id == flow.id)) or 0
    ) + 1
    db.execute(update(FlowVersion).where(FlowVersion.flow_id == flow.id).values(is_live=False))
    version = FlowVersion(
        flow_id=flow.id,
        number=number,
        doc=doc,
        digest=flow_digest(doc),
        trigger_event=compiled.trigger_event,
        is_live=True,
        note=note,
        published_by_id=actor.id if actor else None,
    )
    db.add(version)
    flow.published_version = number
    flow.archived_at = None
    db.flush()
    log.info(
        "flow %s version %d published by %s",
        flow.key,
        number,
        actor.username if actor else "system",
    )
    return version


def live_version(db: Session, flow: Flow) -> FlowVersion | None:
    return db.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.is_live.is_(True))
    ).one_or_none()


def archive(db: Session, actor: User | None, flow: Flow) -> None:
    """Stop starting new runs of ``flow``; running ones finish on their version."""
    db.execute(update(FlowVersion).where(FlowVersion.flow_id == flow.id).values(is_live=False))
    flow.archived_at = utcnow()
    db.flush()
    log.info("flow %s archived by %s", flow.key, actor.username if actor else "system")


def import_flow(
    db: Session,
    actor: User | None,
    doc: Mapping[str, Any],
    *,
    publish_now: bool = False,
    note: str = "",
) -> tuple[Flow, FlowVersion | None]:
    """Create or update a flow from a document; optionally publish it in the same transaction."""
    if not isinstance(doc, Mapping):
        raise ValidationError(_l("A flow document is a JSON object."), code="invalid_flow")
    key = _key_of(doc)
    flow = db.scalars(select(Flow).where(Flow.key == key)).one_or_none()
    if flow is None:
        flow = create_flow(db, actor, doc)
    else:
        flow, _ = save_draft(db, actor, flow, doc, base_revision=flow.draft_revision)
    version = publish(db, actor, flow, note=note) if publish_now else None
    return flow, version
