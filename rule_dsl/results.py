"""Results of decision tables: ``TableResult`` (one evaluation) and ``Finding`` (analysis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Finding", "TableResult"]


class TableResult:
    """Outcome of one evaluation: matched row indexes (0-based), outputs and ``value``.

    ``outputs`` is a dict for single-hit policies and aggregations (None when no row
    matched and no defaults exist) and a list of dicts for ``collect`` / ``rule_order``.
    ``value`` is the output value itself when the table has a single output column.
    """

    __slots__ = ("matched", "_outputs", "value")

    def __init__(self, matched: tuple[int, ...], outputs: Any, value: Any) -> None:
        self.matched = matched
        self._outputs = outputs
        self.value = value

    @property
    def outputs(self) -> dict[str, Any] | list[dict[str, Any]] | None:
        out = self._outputs
        if isinstance(out, list):
            return [dict(o) for o in out]
        return None if out is None else dict(out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableResult):
            return NotImplemented
        return (self.matched, self.outputs, self.value) == (
            other.matched,
            other.outputs,
            other.value,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TableResult(matched={self.matched!r}, outputs={self.outputs!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return matched rows, outputs and value as a plain dict."""
        return {"matched": list(self.matched), "outputs": self.outputs, "value": self.value}


@dataclass(frozen=True, slots=True)
class Finding:
    """A static-analysis finding: ``kind`` is "overlap", "gap" or "unreachable".

    ``rows`` are 0-based row indexes, ``example`` maps input names to an example value.
    """

    kind: str
    rows: tuple[int, ...]
    example: dict[str, Any]
    message: str
    message_zh: str

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a dict (example values as display text)."""
        return {
            "kind": self.kind,
            "rows": list(self.rows),
            "example": {k: _show(v) for k, v in self.example.items()},
            "message": self.message,
            "message_zh": self.message_zh,
        }


def _show(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
