"""Reference tables: list, get, create or update, rows (upsert, delete), CSV upload."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..db import get_session
from ..errors import NotFoundError, ValidationError
from ..models import ReferenceRow, ReferenceTable, utcnow
from ..reference import services as reference
from ._http import (
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    body_limit,
    iso,
    json_body,
    raw_body,
    reply,
)
from ._schemas import MAX_ROWS_PER_CALL, list_of, ref
from .spec import TABLE, api, param


def table_json(table: ReferenceTable, rows: list[ReferenceRow] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": table.name,
        "key_field": table.key_field,
        "description": table.description,
        "columns": table.columns,
        "revision": table.revision,
        "updated_at": iso(table.updated_at),
    }
    if rows is not None:
        body["rows"] = [r.data for r in rows]
    return body


def _rows(table: ReferenceTable) -> list[ReferenceRow]:
    return list(
        get_session().scalars(
            select(ReferenceRow).where(ReferenceRow.table_id == table.id).order_by(ReferenceRow.key)
        )
    )


@api.get(
    "/reference-tables",
    scope="flows:read",
    summary="List reference tables",
    responses={"200": list_of(ref("ReferenceTable"))},
)  # fmt: skip
def list_tables() -> Response:
    tables = get_session().scalars(select(ReferenceTable).order_by(ReferenceTable.name))
    return reply({"items": [table_json(t) for t in tables]})


@api.get(
    "/reference-tables/<name>",
    scope="flows:read",
    summary="A table with its rows",
    params=[TABLE],
    responses={"200": ref("ReferenceTable")},
)  # fmt: skip
def get_table(name: str) -> Response:
    table = reference.get_table(get_session(), name)
    return reply(table_json(table, _rows(table)))


def _rows_of(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    if "rows" not in body:
        return None
    rows = body["rows"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValidationError(
            _l("rows is a list of JSON objects."),
            code="invalid_body",
            details=[{"path": "/rows", "message": "array of objects", "rule": "type"}],
        )
    if len(rows) > MAX_ROWS_PER_CALL:
        raise ValidationError(
            _l("At most %(n)d rows per call.", n=MAX_ROWS_PER_CALL),
            code="too_many_rows",
            details=[{"path": "/rows", "message": f"max {MAX_ROWS_PER_CALL}", "rule": "maxItems"}],
        )
    return rows


@api.put(
    "/reference-tables/<name>",
    scope="reference:write",
    summary="Create or update a table",
    params=[TABLE],
    body=ref("ReferenceTableInput"),
    responses={"200": ref("ReferenceTable")},
)  # fmt: skip
def put_table(name: str) -> Response:
    """Create or update a table; ``rows``, when given, replace all its rows."""
    body = json_body()
    key_field = body.get("key_field", "id")
    columns = body.get("columns", [])
    description = body.get("description", "")
    if (
        not isinstance(key_field, str)
        or not isinstance(description, str)
        or not isinstance(columns, list)
        or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns)
    ):
        raise ValidationError(
            _l("The table definition is not valid."),
            code="invalid_body",
            details=[{"path": "/", "message": "key_field: str, columns: [{name, type}]"}],
        )
    db = get_session()
    rows = _rows_of(body)
    table = reference.ensure_table(
        db, name, key_field=key_field, columns=columns, description=description
    )
    if rows is not None:
        reference.upsert_rows(db, table, rows, replace=True)
    db.commit()
    return reply(table_json(table, _rows(table)))


@api.post(
    "/reference-tables/<name>/rows",
    scope="reference:write",
    summary="Insert or update rows by key",
    params=[TABLE],
    body=ref("RowsInput"),
    responses={"200": ref("Count")},
)  # fmt: skip
def upsert_rows(name: str) -> Response:
    """Insert or update rows by their key."""
    body = json_body()
    rows = _rows_of(body)
    if rows is None:
        raise ValidationError(
            _l("Send the rows to insert or update as rows: [{...}, ...]."),
            code="invalid_body",
            details=[{"path": "/rows", "message": "required", "rule": "required"}],
        )
    db = get_session()
    table = reference.get_table(db, name)
    count = reference.upsert_rows(db, table, rows)
    db.commit()
    return reply({"upserted": count, "revision": table.revision})


@api.delete(
    "/reference-tables/<name>/rows/<row_key>",
    scope="reference:write",
    summary="Delete a row",
    params=[TABLE, param("row_key", "path")],
    responses={"200": ref("Count")},
)  # fmt: skip
def delete_row(name: str, row_key: str) -> Response:
    db = get_session()
    table = reference.get_table(db, name)
    row = db.scalars(
        select(ReferenceRow).where(ReferenceRow.table_id == table.id, ReferenceRow.key == row_key)
    ).first()
    if row is None:
        raise NotFoundError(_l("Table %(name)s has no row %(key)s.", name=name, key=row_key))
    db.delete(row)
    table.revision += 1
    table.updated_at = utcnow()
    db.commit()
    return reply({"deleted": row_key, "revision": table.revision})


def _csv_bytes() -> bytes:
    if request.mimetype == "text/csv":
        return raw_body()
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaTypeError(
            _l("Send the CSV as a multipart/form-data file part named file, or as text/csv.")
        )
    limit = body_limit()
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError(
            _l("The form has no file part named file (the CSV)."),
            code="invalid_csv",
            details=[{"path": "/file", "message": "missing", "rule": "required"}],
        )
    data = upload.read(limit + 1)
    if len(data) > limit:  # a body sent without Content-Length
        raise PayloadTooLargeError(_l("The request body is larger than %(n)d bytes.", n=limit))
    return data


@api.post(
    "/reference-tables/<name>/csv",
    scope="reference:write",
    summary="Replace rows from a CSV (a file part named file; a text/csv body is accepted too)",
    params=[TABLE],
    body={"x-media": "multipart/form-data", **ref("CsvUpload")},
    responses={"200": ref("Count")},
)  # fmt: skip
def upload_csv(name: str) -> Response:
    """Replace the table's rows with a CSV (header row = column names): a multipart file
    part named ``file``, or a ``text/csv`` body."""
    try:
        text = _csv_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(
            _l("The CSV must be UTF-8."),
            code="invalid_csv",
            details=[{"path": "/", "message": "UTF-8", "rule": "encoding"}],
        ) from None
    db = get_session()
    table = reference.get_table(db, name)
    count = reference.import_csv(db, table, text)
    db.commit()
    return reply({"rows": count, "revision": table.revision})
