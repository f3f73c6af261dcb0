"""Errors of the template library.

::

    BundleError                  a bundle cannot be used; ``problems`` lists every reason with its place
    └── AddressParserMissingError  the bundle cleans addresses but cpca is not installed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["INSTALL_ADDRESS", "AddressParserMissingError", "BundleError", "Problem"]

# What installs the address parser (cpca, with pandas) that ``intake.clean_address`` needs.
INSTALL_ADDRESS = 'pip install "orderflow[address]"'


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


class AddressParserMissingError(BundleError):
    """``bundle``'s intake asks for ``clean_address`` but the address parser is not installed."""

    def __init__(self, bundle: str = "") -> None:
        name = bundle or "?"
        super().__init__(
            [
                Problem(
                    "address_parser_missing",
                    "manifest.json",
                    "/intake/clean_address",
                    f"The template {name} cleans shipping addresses (intake option "
                    f"clean_address), which needs the address parser cpca; it is not "
                    f"installed. Install it with: {INSTALL_ADDRESS}",
                    f"模板 {name} 要求清洗收货地址（接单选项 clean_address），这需要地址解析库 "
                    f"cpca，但它没有安装。请安装：{INSTALL_ADDRESS}",
                    {"bundle": bundle, "install": INSTALL_ADDRESS},
                )
            ]
        )
        self.bundle = bundle
