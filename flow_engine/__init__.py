"""OrderFlow's flow engine: flow documents, validation, node types and a pure interpreter.

::

    from flow_engine import compile_flow, start_run, step, ApprovalDecided

    flow = compile_flow(doc)                       # validates, compiles every expression
    result = start_run(flow, order, run_id="R1", now=now, ref=reference_tables)
    result.snapshot, result.audit, result.effects  # store, log, put in the outbox
    result = step(flow, result.snapshot, ApprovalDecided("R1:a7", "li", "approved"), now=later)

The engine never performs effects and never reads the clock: the app does both.
"""

from __future__ import annotations

from flow_engine._calendar import BusinessCalendar
from flow_engine._schema_errors import Failure as SchemaFailure
from flow_engine._schema_errors import describe as describe_schema_error
from flow_engine.compiled import CompiledFlow, CompiledNode, compile_flow, flow_digest
from flow_engine.context import build_context, flow_context_schema, flow_schema, order_schema
from flow_engine.effect_kinds import EffectKind
from flow_engine.errors import (
    FlowError,
    FlowMigrationError,
    FlowStateError,
    FlowValidationError,
    NodeError,
)
from flow_engine.events import (
    ApprovalAdded,
    ApprovalCopied,
    ApprovalDecided,
    ApprovalDelegated,
    ApprovalResubmitted,
    ApprovalSentBack,
    CancelRun,
    EffectResult,
    Event,
    ExternalEvent,
    OrderArrived,
    Retry,
    TimerFired,
    event_from_dict,
    event_to_dict,
)
from flow_engine.exclusive import exclusive_winners
from flow_engine.fork import divergence, simulate_pair
from flow_engine.issues import ValidationIssue
from flow_engine.migrations import migrate
from flow_engine.model import CURRENT_FORMAT_VERSION, Edge, Flow, Node, Trigger
from flow_engine.nodes import (
    NODE_HANDLERS,
    NodeHandler,
    effect_kinds,
    register_node_type,
    set_notify_channels,
    unregister_node_type,
)
from flow_engine.runner import approval_checks, is_paused, run_paused, start_run, step
from flow_engine.simulate import InMemoryInventory, SimulationReport, simulate
from flow_engine.state import (
    CANCELLED,
    COMPLETED,
    INCIDENT,
    NEW,
    WAITING,
    AuditEvent,
    Effect,
    Incident,
    RunSnapshot,
    StepResult,
    Token,
)
from flow_engine.validate import normalise_durations, validate_flow

__all__ = [
    "SchemaFailure",
    "describe_schema_error",
    "CANCELLED",
    "COMPLETED",
    "CURRENT_FORMAT_VERSION",
    "INCIDENT",
    "NEW",
    "NODE_HANDLERS",
    "WAITING",
    "ApprovalAdded",
    "ApprovalCopied",
    "ApprovalDecided",
    "ApprovalDelegated",
    "ApprovalResubmitted",
    "ApprovalSentBack",
    "AuditEvent",
    "BusinessCalendar",
    "CancelRun",
    "CompiledFlow",
    "CompiledNode",
    "Edge",
    "Effect",
    "EffectKind",
    "EffectResult",
    "Event",
    "ExternalEvent",
    "Flow",
    "FlowError",
    "FlowMigrationError",
    "FlowStateError",
    "FlowValidationError",
    "InMemoryInventory",
    "Incident",
    "Node",
    "NodeError",
    "NodeHandler",
    "OrderArrived",
    "Retry",
    "RunSnapshot",
    "SimulationReport",
    "StepResult",
    "TimerFired",
    "Token",
    "Trigger",
    "ValidationIssue",
    "approval_checks",
    "build_context",
    "compile_flow",
    "divergence",
    "effect_kinds",
    "event_from_dict",
    "event_to_dict",
    "exclusive_winners",
    "flow_context_schema",
    "flow_digest",
    "flow_schema",
    "is_paused",
    "register_node_type",
    "set_notify_channels",
    "run_paused",
    "migrate",
    "order_schema",
    "simulate",
    "simulate_pair",
    "start_run",
    "step",
    "normalise_durations",
    "unregister_node_type",
    "validate_flow",
]
