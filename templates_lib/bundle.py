"""A template bundle in memory: its manifest, flows, tables, stock and samples."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

__all__ = ["INDUSTRIES", "Bundle", "TableSpec", "substitute"]

INDUSTRIES: dict[str, dict[str, str]] = {
    "manufacturing": {"en": "Manufacturing", "zh": "制造"},
    "distribution": {"en": "Distribution and wholesale", "zh": "分销批发"},
    "ecommerce": {"en": "E-commerce", "zh": "电商零售"},
    "cross_border": {"en": "Cross-border e-commerce", "zh": "跨境电商"},
    "live_commerce": {"en": "Live commerce", "zh": "直播电商"},
    "pharmacy": {"en": "Pharmacy chains", "zh": "医药连锁"},
    "small_business": {"en": "Small shops", "zh": "小微商家"},
    "general": {"en": "Any business", "zh": "通用"},
}
PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]{0,63})\s*\}\}")


@dataclass(frozen=True)
class TableSpec:
    """A reference table the bundle loads: columns as declared, rows with typed values."""

    name: str
    key_field: str
    columns: tuple[dict[str, Any], ...]
    description: dict[str, str] | None
    rows: tuple[dict[str, Any], ...]
    file: str


def substitute(value: Any, params: Mapping[str, str]) -> Any:
    """``value`` with every ``{{name}}`` in its strings replaced by ``params[name]``."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        return PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    return value


def placeholders(value: Any) -> set[str]:
    """Names of every ``{{name}}`` used in the strings of ``value``."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(PLACEHOLDER.findall(value))
    elif isinstance(value, list):
        for v in value:
            found |= placeholders(v)
    elif isinstance(value, dict):
        for v in value.values():
            found |= placeholders(v)
    return found


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle. ``flows`` keep their ``{{parameters}}``; :meth:`resolved` fills them."""

    manifest: dict[str, Any]
    flows: tuple[dict[str, Any], ...]
    flow_files: tuple[str, ...]
    tables: tuple[TableSpec, ...]
    stock: tuple[tuple[str, str, int], ...]
    samples: tuple[dict[str, Any], ...]
    source: str = ""
    params: tuple[tuple[str, str], ...] = ()

    # -- manifest fields ------------------------------------------------------------------

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def name(self) -> dict[str, str]:
        return dict(self.manifest["name"])

    @property
    def description(self) -> dict[str, str]:
        return dict(self.manifest["description"])

    @property
    def summary(self) -> dict[str, str]:
        return dict(self.manifest.get("summary") or self.manifest["description"])

    @property
    def industries(self) -> tuple[str, ...]:
        return tuple(self.manifest["industries"])

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("keywords") or ())

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return dict(self.manifest.get("parameters") or {})

    @property
    def custom_fields(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.manifest.get("custom_fields") or ())

    @property
    def alert_rules(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.manifest.get("alert_rules") or ())

    @property
    def notification_texts(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.manifest.get("notification_texts") or ())

    @property
    def status_mappings(self) -> dict[str, dict[str, str]]:
        return dict(self.manifest.get("status_mappings") or {})

    @property
    def status_board(self) -> dict[str, Any] | None:
        return self.manifest.get("status_board")

    @property
    def intake(self) -> dict[str, Any]:
        return dict(self.manifest.get("intake") or {})

    @property
    def requires(self) -> dict[str, Any]:
        return dict(self.manifest.get("requires") or {})

    @property
    def flow_keys(self) -> tuple[str, ...]:
        return tuple(str(f["key"]) for f in self.flows)

    # -- derived --------------------------------------------------------------------------

    def parameter_values(self, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every parameter's value: ``given`` where set, else the default."""
        given = given or {}
        return {
            name: str(given.get(name) or spec["default"]) for name, spec in self.parameters.items()
        }

    def resolved(self, given: Mapping[str, str] | None = None) -> Bundle:
        """The bundle with ``{{parameters}}`` in its flows replaced (defaults where not given)."""
        values = self.parameter_values(given)
        flows = tuple(substitute(doc, values) for doc in self.flows)
        return replace(self, flows=flows, params=tuple(sorted(values.items())))

    def ref(self) -> dict[str, Any]:
        """Reference data as flows see it in ``ref``: tables by name plus ``inventory``."""
        out: dict[str, Any] = {t.name: [dict(r) for r in t.rows] for t in self.tables}
        inventory: dict[str, dict[str, int]] = {}
        for warehouse, sku, on_hand in self.stock:
            inventory.setdefault(warehouse, {})[sku] = on_hand
        out["inventory"] = inventory
        return out

    @cached_property
    def stats(self) -> dict[str, int]:
        """Counts shown in the gallery: flows, nodes, rules, tables, rows, stock, samples ...

        Rules are the decisions a supervisor maintains: decision-table rows, rule-set
        rules, condition nodes and switch cases.
        """
        nodes = rules = 0
        for doc in self.flows:
            for node in doc.get("nodes") or ():
                nodes += 1
                rules += node_rule_count(node)
        return {
            "flows": len(self.flows),
            "nodes": nodes,
            "rules": rules,
            "tables": len(self.tables),
            "rows": sum(len(t.rows) for t in self.tables),
            "stock": len(self.stock),
            "custom_fields": len(self.custom_fields),
            "alert_rules": len(self.alert_rules),
            "notification_texts": len(self.notification_texts),
            "status_codes": sum(len(codes) for codes in self.status_mappings.values()),
            "samples": len(self.samples),
        }

    def search_text(self) -> str:
        """Everything a gallery search matches against, lowercased."""
        parts = [
            self.id,
            *self.name.values(),
            *self.summary.values(),
            *self.description.values(),
            *self.keywords,
            *(INDUSTRIES[i][lang] for i in self.industries for lang in ("en", "zh")),
        ]
        for doc in self.flows:
            name = doc.get("name")
            parts += list(name.values()) if isinstance(name, dict) else [str(name or "")]
        return " ".join(parts).lower()

    def to_json(self) -> str:
        """The manifest as stable JSON text (for digests and display)."""
        return json.dumps(self.manifest, ensure_ascii=False, sort_keys=True)


def node_rule_count(node: Mapping[str, Any]) -> int:
    """How many rules one node holds (see :attr:`Bundle.stats`)."""
    config = node.get("config") or {}
    kind = node.get("type")
    if kind == "decision_table":
        return len((config.get("table") or {}).get("rules") or ())
    if kind == "ruleset":
        return len(re.findall(r'(?m)^\s*rule\s+"', str(config.get("source") or "")))
    if kind == "condition":
        return 1
    if kind == "switch":
        return len(config.get("cases") or ())
    return 0
