"""Errors raised by the flow engine.

Exception tree::

    FlowError                 base of every error raised by flow_engine
     +-- FlowValidationError  compile_flow() got a document with problems (.issues lists all)
     +-- FlowMigrationError   a stored document has an unknown or newer format_version
     +-- FlowStateError       a snapshot, event or clock does not fit the flow or the run
     +-- NodeError            a node failed at run time; step() turns it into an incident

Bad order data never raises out of ``step()``: expression failures and ``NodeError`` put the
run into the ``incident`` status instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flow_engine.validate import ValidationIssue


class FlowError(Exception):
    """Base class of every error raised by the flow engine."""


class FlowValidationError(FlowError):
    """The flow document is invalid; ``issues`` holds every problem found."""

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        head = "; ".join(f"{i.path}: {i.message}" for i in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"invalid flow: {head}{more}")


class FlowMigrationError(FlowError):
    """A stored flow document cannot be upgraded to the current format."""


class FlowStateError(FlowError):
    """A snapshot, event or clock value does not fit the flow or the run."""


class NodeError(FlowError):
    """A node could not do its work; the run goes to ``incident`` with this reason."""

    def __init__(
        self,
        code: str,
        message: str,
        message_zh: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.message_zh = message_zh or message
        self.details = dict(details or {})
        super().__init__(message)
