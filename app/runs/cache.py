"""Per-process caches of what every order needs: the live flow versions, compiled once (a
published version never changes), and the reference tables. One small query per order
(`catalog_stamp`) tells whether anything was published, archived or edited since."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flow_engine import CompiledFlow, compile_flow

from ..models import FlowVersion, OrgRevision, ReferenceTable, Subscription

_MAX = 256
_lock = threading.Lock()
_compiled: OrderedDict[tuple[int, str], CompiledFlow] = OrderedDict()


def compiled_version(version: FlowVersion) -> CompiledFlow:
    """The compiled form of a published flow version (compiled on first use)."""
    # The digest is part of the key: a restored or recreated database may reuse row ids.
    key = (version.id, version.digest)
    with _lock:
        flow = _compiled.get(key)
        if flow is not None:
            _compiled.move_to_end(key)
            return flow
    flow = compile_flow(version.doc, version=str(version.number))
    with _lock:
        _compiled[key] = flow
        while len(_compiled) > _MAX:
            _compiled.popitem(last=False)
    return flow


@dataclass(frozen=True)
class CatalogStamp:
    live_versions: tuple[object, ...]
    reference: tuple[object, ...]
    subscriptions: tuple[object, ...] = ()
    org: str | None = None


def catalog_stamp(db: Session) -> CatalogStamp:
    """Fingerprints of the live flow versions, the reference tables, the event
    subscriptions and the organisation, in one query.

    Counts and sums change with every publish, archive, table edit and subscription
    removal; the latest change time (every change of a subscription sets it) tells apart
    two databases (a restore, a test) whose rows have the same ids.
    """
    row = db.connection().execute(_STAMP).one()
    return CatalogStamp(tuple(row[:3]), tuple(row[3:6]), tuple(row[6:9]), row[9])


_live = FlowVersion.is_live.is_(True)
# Built once: constructing a statement costs more than running this one.
_STAMP = select(
    select(func.count(FlowVersion.id)).where(_live).scalar_subquery(),
    select(func.coalesce(func.sum(FlowVersion.id), 0)).where(_live).scalar_subquery(),
    select(func.max(FlowVersion.published_at)).where(_live).scalar_subquery(),
    select(func.count(ReferenceTable.id)).scalar_subquery(),
    select(func.coalesce(func.sum(ReferenceTable.revision), 0)).scalar_subquery(),
    select(func.max(ReferenceTable.updated_at)).scalar_subquery(),
    select(func.count(Subscription.id)).scalar_subquery(),
    select(func.coalesce(func.sum(Subscription.id), 0)).scalar_subquery(),
    select(func.max(Subscription.updated_at)).scalar_subquery(),
    select(OrgRevision.stamp).where(OrgRevision.id == 1).scalar_subquery(),
)


@dataclass(frozen=True)
class LiveVersion:
    """What starting a run needs of a live flow version (detached from any session)."""

    id: int
    flow_id: int
    flow_key: str
    number: int
    trigger_event: str
    flow: CompiledFlow


class LiveFlows:
    def __init__(self) -> None:
        self._stamp: tuple[object, ...] | None = None
        self._by_event: dict[str, list[LiveVersion]] = {}

    def get(self, db: Session, stamp: CatalogStamp, event: str) -> list[LiveVersion]:
        if stamp.live_versions != self._stamp:
            versions = db.scalars(
                select(FlowVersion)
                .where(FlowVersion.is_live.is_(True))
                .order_by(FlowVersion.flow_id)
            )
            by_event: dict[str, list[LiveVersion]] = {}
            for v in versions:
                live = LiveVersion(
                    v.id, v.flow_id, v.flow.key, v.number, v.trigger_event, compiled_version(v)
                )
                by_event.setdefault(v.trigger_event, []).append(live)
            with _lock:
                self._stamp, self._by_event = stamp.live_versions, by_event
        return self._by_event.get(event, [])


live_flows = LiveFlows()
