"""Reading and checking bundles: from a folder, a zip file or a mapping of files.

Every check collects its problems instead of stopping at the first, so an admin uploading a
bundle sees everything that is wrong with it at once, each with its file and JSON pointer.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from flow_engine import describe_schema_error, order_schema, validate_flow

from .bundle import Bundle, TableSpec, placeholders, substitute
from .errors import BundleError, Problem

__all__ = [
    "BUNDLES_DIR",
    "MAX_BYTES",
    "MAX_FILES",
    "builtin_bundle",
    "builtin_bundles",
    "load_dir",
    "load_files",
    "load_zip",
    "manifest_schema",
    "read_dir",
    "read_zip",
    "samples_schema",
]

BUNDLES_DIR = Path(__file__).parent / "bundles"
MANIFEST = "manifest.json"
MAX_FILES = 300
MAX_BYTES = 20 * 1024 * 1024
STOCK_HEADER = ("warehouse", "sku", "on_hand")


@cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads((Path(__file__).parent / name).read_text(encoding="utf-8"))


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of ``manifest.json``."""
    return json.loads(json.dumps(_schema("manifest.schema.json")))


def samples_schema() -> dict[str, Any]:
    """The JSON Schema of a bundle's sample orders file."""
    return json.loads(json.dumps(_schema("samples.schema.json")))


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(name), format_checker=FormatChecker())


def _problem(code: str, file: str, path: str, en: str, zh: str, **details: Any) -> Problem:
    return Problem(code, file, path, en, zh, details)


def _pointer(parts: Iterable[Any]) -> str:
    return "".join(f"/{p}" for p in parts)


def _schema_problems(validator: Draft202012Validator, doc: Any, file: str, code: str) -> list:
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        path = _pointer(err.absolute_path)
        en, zh = describe_schema_error(err, validator.schema, (file, file))
        out.append(_problem(code, file, path, f"{path or '/'}: {en}", f"{path or '/'}：{zh}"))
    return out


# -- reading files -----------------------------------------------------------------------


def read_dir(path: str | Path) -> dict[str, bytes]:
    """Every file under ``path`` as ``{relative posix path: bytes}`` (hidden files skipped)."""
    root = Path(path)
    files: dict[str, bytes] = {}
    for item in sorted(root.rglob("*")):
        rel = item.relative_to(root).as_posix()
        if item.is_file() and not any(part.startswith((".", "__")) for part in rel.split("/")):
            files[rel] = item.read_bytes()
    return files


def read_zip(data: bytes) -> dict[str, bytes]:
    """The files of a bundle zip; a single top folder is stripped. Refuses unsafe archives."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, ValueError, EOFError) as err:
        raise BundleError(
            [_not_a_bundle("", f"not a zip file ({err})", f"不是有效的 zip 文件（{err}）")]
        ) from err
    # The sizes are the central directory's, and zipfile never unpacks a member past its
    # listed size (a member that holds more fails its CRC check): this bounds the unpacking.
    if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_BYTES:
        raise BundleError(
            [
                _problem(
                    "too_large",
                    "",
                    "",
                    f"a bundle has at most {MAX_FILES} files and {MAX_BYTES // 2**20} MiB",
                    f"模板包最多 {MAX_FILES} 个文件、{MAX_BYTES // 2**20} MiB",
                )
            ]
        )
    names = [i.filename for i in infos]
    for name in names:
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or "\\" in name:
            raise BundleError(
                [_problem("unsafe_path", name, "", "unsafe file name", "文件名不安全")]
            )
    prefix = ""
    tops = {PurePosixPath(n).parts[0] for n in names}
    if len(tops) == 1 and MANIFEST not in names and all("/" in n for n in names):
        prefix = tops.pop() + "/"
    files = {}
    for info in infos:
        rel = info.filename[len(prefix) :]
        if rel.split("/")[-1].startswith(".") or rel.startswith("__MACOSX"):
            continue
        try:
            files[rel] = archive.read(info)
        except _DAMAGED as err:
            raise BundleError(
                [_not_a_bundle(rel, f"{rel} is damaged ({err})", f"{rel} 已损坏（{err}）")]
            ) from err
    return files


# What reading a damaged member raises: a bad CRC or header (BadZipFile), bad deflate data
# (zlib.error), data cut short (EOFError), an unknown compression method
# (NotImplementedError), a password (RuntimeError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)


def _not_a_bundle(file: str, en: str, zh: str) -> Problem:
    return _problem(
        "bad_zip",
        file,
        "",
        f"the file is not a valid template bundle: {en}",
        f"该文件不是有效的模板包：{zh}",
    )


# -- parsing -----------------------------------------------------------------------------


def _json(
    files: Mapping[str, bytes], name: str, problems: list[Problem], *, exact: bool = False
) -> Any:
    raw = files.get(name)
    if raw is None:
        problems.append(
            _problem("missing_file", name, "", f"file {name} is missing", f"缺少文件 {name}")
        )
        return None
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_float=Decimal if exact else float)
    except UnicodeDecodeError as err:
        problems.append(
            _problem("bad_encoding", name, "", f"not UTF-8 text: {err}", f"不是 UTF-8 文本：{err}")
        )
    except json.JSONDecodeError as err:
        problems.append(
            _problem(
                "bad_json",
                name,
                "",
                f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                f"JSON 格式错误（第 {err.lineno} 行第 {err.colno} 列）：{err.msg}",
                line=err.lineno,
                column=err.colno,
            )
        )
    return None


def _cell(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError(value)
        return Decimal(str(value))
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError(value)
        return int(str(value))
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        raise ValueError(value)
    if kind == "list":
        if isinstance(value, list):
            return value
        return [v.strip() for v in str(value).split("|") if v.strip()]
    return value if isinstance(value, str) else str(value)


def _rows(files: Mapping[str, bytes], spec: Mapping[str, Any], problems: list[Problem]) -> list:
    name = spec["file"]
    raw = files.get(name)
    if raw is None:
        problems.append(
            _problem("missing_file", name, "", f"file {name} is missing", f"缺少文件 {name}")
        )
        return []
    if name.endswith(".json"):
        data = _json(files, name, problems, exact=True)
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            problems.append(
                _problem(
                    "bad_table",
                    name,
                    "",
                    "a JSON table is a list of objects",
                    "JSON 表应为对象数组",
                )
            )
            return []
        return data
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        problems.append(
            _problem("bad_encoding", name, "", f"not UTF-8 text: {err}", f"不是 UTF-8 文本：{err}")
        )
        return []
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for i, row in enumerate(reader, start=2):
        if None in row:
            problems.append(
                _problem(
                    "bad_csv",
                    name,
                    f"/line/{i}",
                    f"line {i} has more cells than the header",
                    f"第 {i} 行的列数多于表头",
                )
            )
            continue
        rows.append(row)
    return rows


def _table(files: Mapping[str, bytes], spec: Mapping[str, Any], problems: list) -> TableSpec:
    key = spec.get("key_field", "id")
    columns = tuple(dict(c) for c in spec.get("columns") or ())
    types = {c["name"]: c.get("type", "string") for c in columns}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(_rows(files, spec, problems)):
        row: dict[str, Any] = {}
        for col, value in raw.items():
            try:
                row[col] = _cell(value, types[col]) if col in types else value
            except (ValueError, InvalidOperation):
                problems.append(
                    _problem(
                        "bad_cell",
                        spec["file"],
                        f"/{i}/{col}",
                        f"row {i + 1}, column {col}: {value!r} is not a valid {types[col]}",
                        f"第 {i + 1} 行 {col} 列：{value!r} 不是有效的 {types[col]}",
                    )
                )
        ident = row.get(key)
        if ident in (None, ""):
            problems.append(
                _problem(
                    "missing_key",
                    spec["file"],
                    f"/{i}",
                    f"row {i + 1} has no value in the key column {key}",
                    f"第 {i + 1} 行缺少主键列 {key} 的值",
                )
            )
        elif str(ident) in seen:
            problems.append(
                _problem(
                    "duplicate_key",
                    spec["file"],
                    f"/{i}",
                    f"row {i + 1}: key {ident} appears twice",
                    f"第 {i + 1} 行：主键 {ident} 重复",
                )
            )
        else:
            seen.add(str(ident))
        rows.append(row)
    return TableSpec(spec["name"], key, columns, spec.get("description"), tuple(rows), spec["file"])


def _stock(files: Mapping[str, bytes], name: str, problems: list) -> list[tuple[str, str, int]]:
    raw = files.get(name)
    if raw is None:
        problems.append(
            _problem("missing_file", name, "", f"file {name} is missing", f"缺少文件 {name}")
        )
        return []
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig", "replace")))
    if tuple(reader.fieldnames or ()) != STOCK_HEADER:
        problems.append(
            _problem(
                "bad_stock",
                name,
                "",
                "the stock CSV header is warehouse,sku,on_hand",
                "库存 CSV 的表头应为 warehouse,sku,on_hand",
            )
        )
        return []
    out = []
    for i, row in enumerate(reader, start=2):
        try:
            qty = int(row["on_hand"])
            if qty < 0 or not row["warehouse"] or not row["sku"]:
                raise ValueError(row)
        except (TypeError, ValueError):
            problems.append(
                _problem(
                    "bad_stock",
                    name,
                    f"/line/{i}",
                    f"line {i}: needs a warehouse, a SKU and a whole number of units >= 0",
                    f"第 {i} 行：需要仓库、SKU 和不小于 0 的整数数量",
                )
            )
            continue
        out.append((row["warehouse"], row["sku"], qty))
    return out


def _flow_problems(doc: Any, file: str, order_schema_: Mapping[str, Any]) -> list[Problem]:
    out = []
    for issue in validate_flow(doc, order_schema=order_schema_):
        if issue.severity != "error":
            continue
        where = f"node {issue.node_id}: " if issue.node_id else ""
        where_zh = f"节点 {issue.node_id}：" if issue.node_id else ""
        details: dict[str, Any] = {"flow_code": issue.code}
        if issue.node_id:
            details["node_id"] = issue.node_id
        dsl = getattr(issue, "dsl", None)
        if dsl:
            details["dsl"] = dict(dsl)
        out.append(
            Problem(
                "flow_invalid",
                file,
                issue.path,
                f"{where}{issue.message}",
                f"{where_zh}{issue.message_zh}",
                details,
            )
        )
    return out


def order_schema_with(custom_fields: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The canonical order schema with ``custom_fields`` declared under ``custom``."""
    schema = order_schema()
    props = schema["properties"]["custom"].setdefault("properties", {})
    kinds = {"date-time": {"type": "string", "format": "date-time"}}
    for field in custom_fields:
        prop = dict(kinds.get(field["type"], {"type": field["type"]}))
        if field.get("options"):
            prop["enum"] = list(field["options"])
        prop["x-label-zh"] = field["label"]["zh"]
        props[field["name"]] = prop
    return schema


# -- the bundle --------------------------------------------------------------------------


def load_files(
    files: Mapping[str, bytes], *, source: str = "", folder: str | None = None
) -> Bundle:
    """Build a :class:`Bundle` from its files; raises :class:`BundleError` listing every problem."""
    problems: list[Problem] = []
    if len(files) > MAX_FILES or sum(len(b) for b in files.values()) > MAX_BYTES:
        raise BundleError(
            [
                _problem(
                    "too_large",
                    "",
                    "",
                    f"a bundle has at most {MAX_FILES} files and {MAX_BYTES // 2**20} MiB",
                    f"模板包最多 {MAX_FILES} 个文件、{MAX_BYTES // 2**20} MiB",
                )
            ]
        )
    manifest = _json(files, MANIFEST, problems)
    if manifest is None:
        raise BundleError(problems)
    problems += _schema_problems(
        _validator("manifest.schema.json"), manifest, MANIFEST, "manifest_schema"
    )
    if problems:
        raise BundleError(problems)
    if folder is not None and folder != manifest["id"]:
        problems.append(
            _problem(
                "id_mismatch",
                MANIFEST,
                "/id",
                f"the bundle id {manifest['id']} differs from its folder name {folder}",
                f"模板包 id {manifest['id']} 与文件夹名 {folder} 不一致",
            )
        )
    params = manifest.get("parameters") or {}
    defaults = {name: spec["default"] for name, spec in params.items()}
    schema = order_schema_with(manifest.get("custom_fields") or ())
    flows, keys = [], set()
    for i, name in enumerate(manifest["flows"]):
        doc = _json(files, name, problems)
        if doc is None:
            continue
        for unknown in sorted(placeholders(doc) - set(params)):
            problems.append(
                _problem(
                    "unknown_parameter",
                    name,
                    "",
                    f"{{{{{unknown}}}}} is used but not declared under parameters",
                    f"使用了未在 parameters 中声明的参数 {{{{{unknown}}}}}",
                )
            )
        problems += _flow_problems(substitute(doc, defaults), name, schema)
        key = doc.get("key") if isinstance(doc, dict) else None
        if key in keys:
            problems.append(
                _problem(
                    "duplicate_flow",
                    MANIFEST,
                    f"/flows/{i}",
                    f"two flows have the key {key}",
                    f"两个流程使用了同一个 key {key}",
                )
            )
        keys.add(key)
        flows.append(doc)
    tables, names = [], set()
    for i, spec in enumerate(manifest.get("reference_tables") or ()):
        if spec["name"] in names or spec["name"] == "inventory":
            problems.append(
                _problem(
                    "duplicate_table",
                    MANIFEST,
                    f"/reference_tables/{i}",
                    f"table name {spec['name']} is used twice or reserved",
                    f"表名 {spec['name']} 重复或为保留名",
                )
            )
        names.add(spec["name"])
        tables.append(_table(files, spec, problems))
    stock = _stock(files, manifest["stock"], problems) if manifest.get("stock") else []
    samples = _samples(files, manifest, keys, schema, problems)
    if problems:
        raise BundleError(problems)
    return Bundle(
        manifest=manifest,
        flows=tuple(flows),
        flow_files=tuple(manifest["flows"]),
        tables=tuple(tables),
        stock=tuple(stock),
        samples=tuple(samples),
        source=source,
    )


def _samples(
    files: Mapping[str, bytes],
    manifest: Mapping[str, Any],
    flow_keys: set[Any],
    schema: Mapping[str, Any],
    problems: list[Problem],
) -> list[dict[str, Any]]:
    name = manifest.get("samples")
    if not name:
        return []
    data = _json(files, name, problems)
    if data is None:
        return []
    found = _schema_problems(_validator("samples.schema.json"), data, name, "samples_schema")
    if found:
        problems += found
        return []
    orders = Draft202012Validator(schema, format_checker=FormatChecker())
    seen: set[str] = set()
    for i, sample in enumerate(data):
        if sample["id"] in seen:
            problems.append(
                _problem(
                    "duplicate_sample",
                    name,
                    f"/{i}/id",
                    f"sample id {sample['id']} is used twice",
                    f"样例编号 {sample['id']} 重复",
                )
            )
        seen.add(sample["id"])
        for err in orders.iter_errors(sample["order"]):
            path = f"/{i}/order" + _pointer(err.absolute_path)
            problems.append(
                _problem(
                    "sample_order_invalid",
                    name,
                    path,
                    f"{path}: {err.message}",
                    f"{path}：样例订单不符合订单格式（{err.message}）",
                )
            )
        expects = [("expect", sample["expect"])]
        if "then" in sample:
            expects.append(("then/expect", sample["then"]["expect"]))
        for where, expect in expects:
            for key in expect:
                if key not in flow_keys:
                    problems.append(
                        _problem(
                            "unknown_flow",
                            name,
                            f"/{i}/{where}/{key}",
                            f"sample {sample['id']} expects a run of {key}, which is not a flow of the bundle",
                            f"样例 {sample['id']} 引用了不属于本模板包的流程 {key}",
                        )
                    )
    return list(data)


def load_dir(path: str | Path) -> Bundle:
    """Load the bundle in folder ``path`` (its name must be the bundle id)."""
    root = Path(path).resolve()
    return load_files(read_dir(root), source=str(root), folder=root.name)


def load_zip(data: bytes, *, source: str = "upload") -> Bundle:
    """Load a bundle from zip bytes (as exported or uploaded)."""
    return load_files(read_zip(data), source=source)


@cache
def _builtin() -> tuple[Bundle, ...]:
    index = json.loads((BUNDLES_DIR / "index.json").read_text(encoding="utf-8"))
    return tuple(load_dir(BUNDLES_DIR / bundle_id) for bundle_id in index["bundles"])


def builtin_bundles() -> tuple[Bundle, ...]:
    """The bundles shipped with OrderFlow, in gallery order (loaded and checked once)."""
    return _builtin()


def builtin_bundle(bundle_id: str) -> Bundle | None:
    """The shipped bundle ``bundle_id``, or None."""
    return next((b for b in _builtin() if b.id == bundle_id), None)
