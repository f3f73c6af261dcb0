"""Errors of the template library.

::

    BundleError      a bundle cannot be used; ``problems`` lists every reason with its place
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BundleError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: where (file and JSON pointer) and what, in en and zh."""

    code: str
    file: str
    path: str
    message: str
    message_zh: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        out: dict[str, Any] = {
            "code": self.code,
            "file": self.file,
            "path": self.path,
            "message": self.message,
            "message_zh": self.message_zh,
        }
        if self.details:
            out["details"] = self.details
        return out

    def __str__(self) -> str:
        where = self.file + (f" at {self.path}" if self.path else "")
        return f"{where}: {self.message}"


class BundleError(Exception):
    """A bundle is malformed; ``problems`` holds every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid bundle"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))
