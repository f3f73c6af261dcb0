"""Database engine and sessions.

SQLite (a file under ``instance/``, WAL journal, foreign keys on) by default, PostgreSQL
through ``DATABASE_URL``. Views get one session per request from :func:`get_session`;
services receive the session as an argument.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import orjson
import simplejson
from flask import Flask, g
from sqlalchemy import Engine, Insert, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from .config import normalise_database_url
from .errors import ConfigError, ConflictError

EXTENSION_KEY = "orderflow.db"
T = TypeVar("T")
log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, open transactions (see _sqlite_begin): the
    # module's own handling would commit a SAVEPOINT's work when it is released.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A unit of work that will write begins IMMEDIATE (see in_transaction): it waits for the
    # write lock up to busy_timeout instead of reading first and then failing at once with
    # "database is locked" when another writer committed meanwhile.
    immediate = connection.get_execution_options().get("sqlite_immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def json_dumps(value: Any) -> str:
    """JSON columns keep decimals exact: ``Decimal("12.50")`` is stored as the number 12.50;
    datetimes are stored as ISO text.

    orjson writes the common values several times faster (every run step stores a dozen
    audit records); what it refuses (integers beyond 64 bits, say) is written by simplejson,
    to the same text.
    """
    try:
        return orjson.dumps(value, default=_orjson_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return _ENCODER.encode(value)


def _orjson_default(value: Any) -> Any:
    if type(value) is Decimal and value.is_finite():
        return orjson.Fragment(str(value))  # the decimal's own digits, as a JSON number
    return _json_default(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):  # read-only mappings the engine shares between records
        return dict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"cannot store a value of type {type(value).__name__} as JSON")


# One encoder for every JSON column: building one per value costs more than most encodings.
_ENCODER = simplejson.JSONEncoder(
    use_decimal=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
)


def jsonable(value: Any) -> Any:
    """Make ``value`` storable in a JSON column: datetimes become ISO text, tuples lists;
    decimals stay decimals (stored exactly by :func:`json_dumps`)."""
    if isinstance(value, str | int | float | bool | Decimal) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def json_loads(text: str | bytes) -> Any:
    """Numbers with a fraction come back as ``Decimal``, never as binary floats."""
    return simplejson.loads(text, use_decimal=True)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with OrderFlow's connection settings."""
    url = normalise_database_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 10}, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as err:
        raise ConfigError(f"DATABASE_URL is not a usable database address: {err}") from err
    return engine


def check_connection(engine: Engine) -> None:
    """Raise :class:`ConfigError` with a readable reason when the database is unreachable."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any driver error means "not reachable"; the reason is shown
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        where = engine.url.render_as_string(hide_password=True)
        raise ConfigError(f"Cannot connect to the database at {where}: {reason}") from err


@cache
def insert_ignoring_duplicates(dialect: str, table: Table) -> Insert:
    """``INSERT .. ON CONFLICT DO NOTHING`` into ``table`` for the database kind ``dialect``
    (built once per pair: constructing a statement costs more than running a small one)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def on_commit(session: Session, action: Callable[[], Any]) -> None:
    """Run ``action`` once the session's transaction has committed (never on rollback).

    Used for work another process must only see after the data exists: scheduling timers,
    enqueueing outbox deliveries.
    """
    session.info.setdefault("on_commit", []).append(action)


def _run_on_commit(session: Session) -> None:
    actions = session.info.pop("on_commit", [])
    for action in actions:
        try:
            action()
        except Exception:  # the data is committed; a lost wake-up is recovered by the sweeps
            log.exception("after-commit action failed")


def _drop_on_commit(session: Session, *_args: Any) -> None:
    session.info.pop("on_commit", None)


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        event.listen(self.sessionmaker, "after_commit", _run_on_commit)
        event.listen(self.sessionmaker, "after_rollback", _drop_on_commit)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


def in_transaction(database: Database, work: Callable[[Session], T], *, attempts: int = 8) -> T:
    """Run ``work`` in a fresh session and commit; retry the whole unit on a write conflict.

    Conflicts are a stale optimistic lock (another process advanced the same run first) or
    SQLite's "database is locked". Each retry starts from a fresh read, so the work sees
    what the winner committed. On SQLite the unit takes the write lock when it begins
    (``BEGIN IMMEDIATE``), waiting for it up to the busy timeout.
    """
    for attempt in range(attempts):
        with database.session() as session:
            try:
                if database.is_sqlite:
                    session.connection(execution_options={"sqlite_immediate": True})
                result = work(session)
                session.commit()
                return result
            except (StaleDataError, OperationalError) as err:
                session.rollback()
                if isinstance(err, OperationalError) and not _is_lock_error(err):
                    raise
                if attempt == attempts - 1:
                    raise ConflictError(
                        "the data kept changing under this update; try again"
                    ) from err
                time.sleep(random.uniform(0.005, 0.02) * (2**attempt))  # noqa: S311 (jitter)
    raise AssertionError("unreachable")


def _is_lock_error(err: OperationalError) -> bool:
    text_ = str(err.orig).lower()
    return (
        "database is locked" in text_
        or "deadlock detected" in text_
        or "could not serialize" in text_
    )


def init_app(app: Flask) -> Database:
    """Attach a :class:`Database` to ``app`` and close request sessions on teardown."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions[EXTENSION_KEY] = database

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return database


def get_db(app: Flask | None = None) -> Database:
    from flask import current_app

    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The session of the current request (or app context)."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def release_session() -> None:
    """End the request session's transaction and hand its connection back to the pool (the
    session starts afresh if used again). For a request about to wait on other threads'
    transactions: holding a pooled connection while waiting could starve the very thread
    it waits for."""
    session = g.get("db_session")
    if session is not None:
        session.close()
