"""Writing a bundle back to files: what export produces and import reads again."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from typing import Any

import simplejson

from .bundle import Bundle

__all__ = ["to_files", "to_zip"]


def _dump(data: Any) -> bytes:
    text = simplejson.dumps(data, ensure_ascii=False, indent=2, use_decimal=True)
    return (text + "\n").encode("utf-8")


def to_files(bundle: Bundle) -> dict[str, bytes]:
    """The bundle as ``{path: bytes}``: manifest, one file per flow and table, stock, samples.

    Tables are written as JSON so that every value keeps its exact type (decimals, lists,
    booleans) and columns the table does not declare survive the round trip.
    """
    manifest = dict(bundle.manifest)
    files: dict[str, bytes] = {}
    flow_names = []
    for doc in bundle.flows:
        name = f"flows/{doc['key']}.flow.json"
        flow_names.append(name)
        files[name] = _dump(doc)
    manifest["flows"] = flow_names
    tables = []
    for table in bundle.tables:
        name = f"tables/{table.name}.json"
        spec: dict[str, Any] = {"name": table.name, "key_field": table.key_field}
        if table.description:
            spec["description"] = table.description
        if table.columns:
            spec["columns"] = [dict(c) for c in table.columns]
        spec["file"] = name
        tables.append(spec)
        files[name] = _dump([dict(r) for r in table.rows])
    if tables:
        manifest["reference_tables"] = tables
    else:
        manifest.pop("reference_tables", None)
    if bundle.stock:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("warehouse", "sku", "on_hand"))
        writer.writerows(bundle.stock)
        files["stock.csv"] = out.getvalue().encode("utf-8")
        manifest["stock"] = "stock.csv"
    else:
        manifest.pop("stock", None)
    if bundle.samples:
        files["samples.json"] = _dump(list(bundle.samples))
        manifest["samples"] = "samples.json"
    else:
        manifest.pop("samples", None)
    files["manifest.json"] = _dump(manifest)
    return files


def to_zip(files: Mapping[str, bytes], folder: str = "") -> bytes:
    """Pack ``files`` into zip bytes, under ``folder/`` when given (deterministic order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{name}" if folder else name, (2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()
