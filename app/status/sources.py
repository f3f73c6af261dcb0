"""Source systems and their status codes, as data.

OrderFlow ships a code table for each of ``erp``, ``wms``, ``tms`` and ``carrier``
(``mappings.json``). Admins replace a shipped table with their own systems' codes, or add a
source system (a second WMS, a carrier with its own codes), on the *Status mappings* page,
through ``PUT /api/v1/status-mappings/{source}``, or by importing a template; a stored
table (:class:`StatusSource`) takes the place of the shipped one of the same key, and
deleting it brings the shipped one back. Each process re-reads the stored tables at most
once a second, so a change applies everywhere within that second.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFoundError, ValidationError
from ..models import StatusSource, utcnow
from ..rechecked import Rechecked

SOURCE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
# A status code: no control characters, not blank (stored trimmed and upper-cased).
CODE_RE = re.compile(r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")
MAX_CODE = 64
MAX_CODES = 500
RECHECK_SECONDS = 1.0

_tables: Rechecked[dict[str, dict[str, str]]] = Rechecked(RECHECK_SECONDS)


def shipped() -> dict[str, dict[str, str]]:
    from .services import _data

    return _data()["sources"]


def effective(db: Session) -> dict[str, dict[str, str]]:
    """Per source system, its codes and the order state each maps to: the shipped tables,
    with the stored ones in their place. Do not change the answer: it is shared."""
    return _tables.get(db, _load)


def _load(db: Session) -> dict[str, dict[str, str]]:
    merged = dict(shipped())
    for row in db.scalars(select(StatusSource)):
        merged[row.source] = dict(row.codes)
    return merged


def forget() -> None:
    """Read the stored tables again on the next event (after a change in this process)."""
    _tables.forget()


@dataclass(frozen=True)
class SourceView:
    source: str
    codes: dict[str, str]
    shipped: bool  # OrderFlow ships a table of this key
    stored: bool  # an admin's table is in use


def overview(db: Session) -> list[SourceView]:
    """Every source system with the table in use, shipped sources first."""
    rows = {row.source: row for row in db.scalars(select(StatusSource))}
    base = shipped()
    return [_view(key, rows.get(key)) for key in [*base, *sorted(k for k in rows if k not in base)]]


def view(db: Session, source: str) -> SourceView | None:
    """One source system with the table in use; None when there is no such source."""
    row = _stored(db, source)
    return _view(source, row) if row is not None or source in shipped() else None


def _view(source: str, row: StatusSource | None) -> SourceView:
    codes = dict(row.codes) if row is not None else dict(shipped()[source])
    return SourceView(source, codes, source in shipped(), row is not None)


def _stored(db: Session, source: str) -> StatusSource | None:
    return db.scalars(select(StatusSource).where(StatusSource.source == source)).one_or_none()


def check_source_key(source: Any) -> str:
    if not isinstance(source, str) or not SOURCE_RE.match(source):
        raise ValidationError(
            _l(
                "A source system's key is 1 to 16 lower-case letters, digits, _ or -, "
                "starting with a letter (e.g. wms2)."
            ),
            code="invalid_source",
            details=[{"path": "/source", "message": SOURCE_RE.pattern, "rule": "pattern"}],
        )
    return source


def check_codes(codes: Any) -> dict[str, str]:
    """``{CODE: state}`` with codes upper-cased; ValidationError listing every problem."""
    from .services import states

    if not isinstance(codes, Mapping) or not codes:
        raise ValidationError(
            _l("Give at least one status code and the order state it means."),
            code="invalid_codes",
            details=[{"path": "/codes", "message": "a non-empty object", "rule": "type"}],
        )
    if len(codes) > MAX_CODES:
        raise ValidationError(
            _l("A source system has at most %(n)d codes.", n=MAX_CODES),
            code="invalid_codes",
            details=[
                {"path": "/codes", "message": f"at most {MAX_CODES}", "rule": "maxProperties"}
            ],
        )
    known = states()
    out: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    for raw, state in codes.items():
        code = str(raw).strip().upper()
        where = f"/codes/{raw}"
        if len(str(raw)) > MAX_CODE or not CODE_RE.fullmatch(str(raw)):
            problems.append({"path": where, "rule": "pattern",
                             "message": _("A code is 1 to %(n)d printable characters.", n=MAX_CODE)})  # fmt: skip
            continue
        if code in out:
            problems.append({"path": where, "rule": "unique",
                             "message": _("%(code)s is given twice.", code=code)})  # fmt: skip
            continue
        unknown = _unknown_state(state, known)
        if unknown:
            problems.append({"path": where, "rule": "enum", "message": unknown})
            continue
        out[code] = state
    _refuse(problems)
    return out


def _unknown_state(state: Any, known: Mapping[str, Any]) -> str | None:
    """Why ``state`` is no order state (with the closest one), or None when it is one."""
    if isinstance(state, str) and state in known:
        return None
    message = _(
        "%(state)s is not an order state; the states are: %(states)s.",
        state=repr(state),
        states=", ".join(known),
    )
    close = difflib.get_close_matches(str(state), list(known), n=1)
    if close:
        message += " " + _("Did you mean %(state)s?", state=close[0])
    return message


def save(db: Session, actor: str | None, source: str, codes: Any) -> StatusSource:
    """Use ``codes`` as ``source``'s table (replacing what it had). No commit."""
    source = check_source_key(source)
    table = check_codes(codes)
    row = _stored(db, source)
    if row is None:
        row = StatusSource(source=source)
        db.add(row)
    row.codes = table
    row.updated_by = actor
    row.updated_at = utcnow()
    db.flush()
    forget()
    return row


def add_codes(db: Session, actor: str | None, source: str, codes: Mapping[str, str]) -> None:
    """Add ``codes`` to the table ``source`` uses now (a code given again takes the new
    state); nothing is written when the table has them all already. No commit."""
    current = effective(db).get(check_source_key(source), {})
    table = check_codes(codes)
    if any(current.get(code) != state for code, state in table.items()):
        save(db, actor, source, {**current, **table})


def reset(db: Session, source: str) -> None:
    """Drop the stored table of ``source``: a shipped source gets its shipped table back, an
    added one is gone. No commit."""
    row = _stored(db, source)
    if row is None:
        raise NotFoundError(_l("No status mapping of %(source)s was saved.", source=source))
    db.delete(row)
    db.flush()
    forget()


def parse_lines(text: str) -> dict[str, str]:
    """The page's text form, one ``CODE = state`` per line (``#`` starts a comment), as
    ``{CODE: state}``; every problem is reported with its line number."""
    from .services import states

    known = states()
    codes: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        code, sep, state = line.partition("=")
        if not sep or not code.strip() or not state.strip():
            problems.append({"path": _("line %(n)d", n=number), "rule": "format",
                             "message": _("Write one CODE = state per line.")})  # fmt: skip
            continue
        key = code.strip().upper()
        if key in codes:
            problems.append({"path": _("line %(n)d", n=number), "rule": "unique",
                             "message": _("%(code)s is given twice.", code=key)})  # fmt: skip
            continue
        state = state.strip().lower()
        unknown = _unknown_state(state, known)
        if unknown:
            problems.append({"path": _("line %(n)d", n=number), "rule": "enum",
                             "message": unknown})  # fmt: skip
            continue
        codes[key] = state
    _refuse(problems)
    return codes


def _refuse(problems: list[dict[str, Any]]) -> None:
    if problems:
        raise ValidationError(
            _l("The status mapping has %(n)d problems; nothing was saved.", n=len(problems)),
            code="invalid_codes",
            details=problems,
        )


def as_lines(codes: Mapping[str, str]) -> str:
    return "\n".join(f"{code} = {state}" for code, state in codes.items())
