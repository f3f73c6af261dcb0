"""Reference tables: warehouses, carriers, customers and any table an admin adds."""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError, ValidationError
from ..models import ReferenceRow, ReferenceTable, utcnow

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
COLUMN_TYPES = ("string", "number", "integer", "boolean", "list")
MAX_CSV_ROWS = 100_000


def get_table(db: Session, name: str) -> ReferenceTable:
    table = db.scalars(select(ReferenceTable).where(ReferenceTable.name == name)).one_or_none()
    if table is None:
        raise NotFoundError(_l("There is no reference table named %(name)s.", name=name))
    return table


def ensure_table(
    db: Session,
    name: str,
    *,
    key_field: str = "id",
    columns: Iterable[Mapping[str, Any]] = (),
    description: str = "",
) -> ReferenceTable:
    """Return the table ``name``, creating it (or updating its columns) as given."""
    if not NAME_RE.match(name):
        raise ValidationError(
            _l("A table name has lowercase letters, digits and underscores: %(name)s", name=name),
            fields={"name": "invalid"},
        )
    cols = [dict(c) for c in columns]
    for col in cols:
        if col.get("type", "string") not in COLUMN_TYPES:
            raise ValidationError(
                _l("Unknown column type %(type)s.", type=col.get("type")),
                fields={"columns": "type"},
            )
    table = db.scalars(select(ReferenceTable).where(ReferenceTable.name == name)).one_or_none()
    if table is None:
        table = ReferenceTable(
            name=name, key_field=key_field, columns=cols, description=description
        )
        db.add(table)
    else:
        table.key_field = key_field
        if cols:
            table.columns = cols
        if description:
            table.description = description
        table.revision += 1
        table.updated_at = utcnow()
    db.flush()
    return table


def _coerce(value: Any, kind: str, where: str) -> Any:
    if value is None or value == "":
        return None
    try:
        if kind == "number":
            return Decimal(str(value))
        if kind == "integer":
            return int(str(value))
        if kind == "boolean":
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "y", "是"}:
                return True
            if text in {"0", "false", "no", "n", "否"}:
                return False
            raise ValueError(text)
        if kind == "list":
            return (
                value
                if isinstance(value, list)
                else [v.strip() for v in str(value).split("|") if v.strip()]
            )
    except (InvalidOperation, ValueError) as err:
        raise ValidationError(
            _l(
                "%(where)s: %(value)s is not a valid %(kind)s.", where=where, value=value, kind=kind
            ),
            fields={where: "invalid"},
        ) from err
    return str(value) if not isinstance(value, str) else value


def upsert_rows(
    db: Session, table: ReferenceTable, rows: Iterable[Mapping[str, Any]], *, replace: bool = False
) -> int:
    """Insert or update rows by key; with ``replace`` the table holds exactly ``rows`` after."""
    types = {c["name"]: c.get("type", "string") for c in table.columns}
    prepared: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows, start=1):
        # Declared columns are converted (CSV cells are text); others keep their JSON type.
        data = {
            k: _coerce(v, types[k], f"row {i}, {k}") if k in types else v for k, v in row.items()
        }
        key = data.get(table.key_field)
        if key in (None, ""):
            raise ValidationError(
                _l(
                    "Row %(row)d has no value in the key column %(key)s.",
                    row=i,
                    key=table.key_field,
                ),
                fields={f"rows/{i}": "missing_key"},
            )
        if len(str(key)) > 128:
            raise ValidationError(
                _l("Row %(row)d: a key has at most 128 characters.", row=i),
                fields={f"rows/{i}": "key_too_long"},
            )
        prepared[str(key)] = data
    # Upserts of one table take turns (on PostgreSQL; SQLite has one writer at a time), so
    # that two cannot both find a key missing and both insert it.
    db.execute(select(ReferenceTable.id).where(ReferenceTable.id == table.id).with_for_update())
    existing = {
        r.key: r for r in db.scalars(select(ReferenceRow).where(ReferenceRow.table_id == table.id))
    }
    for key, data in prepared.items():
        if key in existing:
            existing[key].data = data
        else:
            db.add(ReferenceRow(table_id=table.id, key=key, data=data))
    if replace:
        for key, stale in existing.items():
            if key not in prepared:
                db.delete(stale)
    table.revision += 1
    table.updated_at = utcnow()
    db.flush()
    return len(prepared)


def import_csv(db: Session, table: ReferenceTable, text: str, *, replace: bool = True) -> int:
    """Load a CSV (header row = column names) into ``table`` in one transaction."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or table.key_field not in reader.fieldnames:
        raise ValidationError(
            _l("The CSV needs a header row with the key column %(key)s.", key=table.key_field),
            fields={"csv": "header"},
        )
    rows = []
    for i, row in enumerate(reader, start=1):
        if i > MAX_CSV_ROWS:
            raise ValidationError(
                _l("A CSV may have at most %(n)d rows.", n=MAX_CSV_ROWS), fields={"csv": "size"}
            )
        if None in row:
            raise ValidationError(
                _l("Row %(row)d has more cells than the header.", row=i), fields={"csv": f"row {i}"}
            )
        rows.append(row)
    count = upsert_rows(db, table, rows, replace=replace)
    log.info("reference table %s loaded from CSV: %d rows", table.name, count)
    return count


class ReferenceCache:
    """All reference tables as ``{name: [row, ...]}``, reloaded only when a table changed.

    One small query per use checks the tables' revisions; rows are read again only when
    something changed, so a run does not query every table for every order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._data: dict[str, list[dict[str, Any]]] = {}
        self._by_key: dict[str, dict[str, dict[str, Any]]] = {}

    def get(
        self, db: Session, stamp: tuple[object, ...] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The tables; ``stamp`` is the catalogue stamp's ``reference`` part when the caller
        has read it (the same three figures this reads otherwise)."""
        if stamp is None:
            row = db.execute(
                select(
                    func.count(ReferenceTable.id),
                    func.coalesce(func.sum(ReferenceTable.revision), 0),
                    func.max(ReferenceTable.updated_at),
                )
            ).one()
            stamp = tuple(row)
        if stamp == self._stamp:
            return self._data
        names = db.scalars(select(ReferenceTable.name)).all()
        data: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        by_key: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in names}
        # Each row with its table's name in one statement: on PostgreSQL each statement sees
        # what had committed when it began, so a table created between two statements would
        # have rows but no name.
        rows = (
            select(ReferenceTable.name, ReferenceRow.key, ReferenceRow.data)
            .join(ReferenceTable, ReferenceRow.table_id == ReferenceTable.id)
            .order_by(ReferenceRow.table_id, ReferenceRow.key)
        )
        for name, key, row_data in db.execute(rows):
            data.setdefault(name, []).append(row_data)
            by_key.setdefault(name, {})[key] = row_data
        with self._lock:
            self._stamp, self._data, self._by_key = stamp, data, by_key
        return data

    def row(self, table: str, key: str) -> dict[str, Any] | None:
        """The row of ``table`` with ``key`` as of the last :meth:`get` (a dict lookup)."""
        return self._by_key.get(table, {}).get(key)


reference_cache = ReferenceCache()
