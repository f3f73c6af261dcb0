"""Database engine and sessions.

SQLite (a file under ``instance/``, WAL journal, foreign keys on) by default, PostgreSQL
through ``DATABASE_URL``. Views get one session per request from :func:`get_session`;
services receive the session as an argument.

On SQLite every transaction that may write takes the write lock with its first statement
(docs/adr/0006): the units of :func:`in_transaction` and the request sessions of POST, PUT,
PATCH and DELETE requests. GET requests read without it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, Engine, Insert, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import UpdateBase

from .config import normalise_database_url
from .errors import (
    ConfigError,
    ConflictError,
    DatabaseBusyError,
    unexpected_error_response,
)
from .jsontext import json_dumps, json_loads

EXTENSION_KEY = "orderflow.db"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BUSY_TIMEOUT = 10.0  # seconds a SQLite writer waits for the write lock (SQLITE_BUSY_TIMEOUT)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def _sqlite_pragmas(busy_timeout: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, open transactions (see _sqlite_begin): the
        # module's own handling would commit a SAVEPOINT's work when it is released.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Any) -> None:
    # A unit of work that will write begins IMMEDIATE (see in_transaction): it waits for the
    # write lock up to busy_timeout instead of reading first and then failing at once with
    # "database is locked" when another writer committed meanwhile.
    immediate = connection.get_execution_options().get("sqlite_immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with OrderFlow's connection settings; on SQLite a writer
    waits up to ``busy_timeout`` seconds for the write lock."""
    url = normalise_database_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
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


def rows_matched(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE and return how many rows it matched."""
    # Such a statement always yields a CursorResult; Session.execute's type only says Result.
    return cast("CursorResult[Any]", session.execute(statement)).rowcount


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

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.engine = make_engine(url, busy_timeout=busy_timeout)
        # The same connections, their transactions beginning IMMEDIATE on SQLite.
        self.writer_engine = (
            self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        )
        # One factory for both kinds of session: other modules hook its events.
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        event.listen(self.sessionmaker, "after_commit", _run_on_commit)
        event.listen(self.sessionmaker, "after_rollback", _drop_on_commit)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self, *, writes: bool = False) -> Session:
        """A new session; with ``writes``, each of its transactions takes SQLite's write lock
        when it begins, waiting for it up to the busy timeout."""
        return self.sessionmaker(bind=self.writer_engine) if writes else self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


def in_transaction(database: Database, work: Callable[[Session], T], *, attempts: int = 8) -> T:
    """Run ``work`` in a fresh session and commit; retry the whole unit on a write conflict.

    Conflicts are a stale optimistic lock (another process advanced the same run first) or
    SQLite's "database is locked". Each retry starts from a fresh read, so the work sees
    what the winner committed. On SQLite the unit takes the write lock when it begins
    (``BEGIN IMMEDIATE``), waiting for it up to the busy timeout; a lock still refused after
    the retries raises :class:`DatabaseBusyError` (503 with ``Retry-After``).
    """
    _release_request_lock(database)
    for attempt in range(attempts):
        with database.session(writes=True) as session:
            try:
                session.connection()  # begin now: the lock is taken before any read
                result = work(session)
                session.commit()
                return result
            except (StaleDataError, OperationalError) as err:
                session.rollback()
                if isinstance(err, OperationalError) and not is_lock_error(err):
                    raise
                if attempt == attempts - 1 and isinstance(err, OperationalError):
                    raise DatabaseBusyError() from err
                if attempt == attempts - 1:
                    raise ConflictError(
                        "the data kept changing under this update; try again"
                    ) from err
                time.sleep(random.uniform(0.005, 0.02) * (2**attempt))  # noqa: S311 (jitter)
    raise AssertionError("unreachable")


def release_write_lock(session: Session) -> None:
    """End ``session``'s transaction if it has nothing pending (a commit without changes;
    loaded objects stay loaded), giving back SQLite's write lock before slow work that only
    reads, such as checking a password hash. The next statement takes the lock again."""
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.commit()


def _release_request_lock(database: Database) -> None:
    # A unit of work run during a request must not wait for its own request's write lock.
    # A view holding unsaved changes while it runs a unit of its own would be waiting for
    # itself and must save or drop them first.
    if not (database.is_sqlite and has_app_context()):
        return
    session = g.get("db_session")
    if session is not None and session.get_bind() is database.writer_engine:
        release_write_lock(session)


def is_lock_error(err: OperationalError) -> bool:
    """SQLite's "database is locked" or PostgreSQL's deadlock and serialization failures."""
    text_ = str(err.orig).lower()
    return (
        "database is locked" in text_
        or "deadlock detected" in text_
        or "could not serialize" in text_
    )


def is_unique_violation(err: IntegrityError) -> bool:
    """A unique constraint refused the row: a concurrent request stored the same key first."""
    orig = err.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def init_app(app: Flask) -> Database:
    """Attach a :class:`Database` to ``app`` and close request sessions on teardown."""
    busy_timeout = float(app.config.get("SQLITE_BUSY_TIMEOUT", BUSY_TIMEOUT))
    database = Database(app.config["DATABASE_URL"], busy_timeout=busy_timeout)
    app.extensions[EXTENSION_KEY] = database

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(IntegrityError, _database_error)

    return database


def _database_error(err: OperationalError | IntegrityError) -> Any:
    """A write that lost to another: 503 when the lock stayed taken, 409 when another request
    stored the same key first; any other database error is a 500. Answered through the app's
    handlers for the domain error, so that the API answers JSON in its own form."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()  # the error page may load the signed-in user again
    if isinstance(err, OperationalError) and is_lock_error(err):
        log.warning("%s %s refused: the database stayed locked", request.method, request.path)
        return current_app.handle_user_exception(DatabaseBusyError())
    if isinstance(err, IntegrityError) and is_unique_violation(err):
        log.warning(
            "%s %s lost a race for a unique key: %s", request.method, request.path, err.orig
        )
        conflict = ConflictError(
            _l("Someone else saved the same item at the same moment. Reload and try again."),
            code="concurrent_change",
        )
        return current_app.handle_user_exception(conflict)
    return unexpected_error_response(err)


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions[EXTENSION_KEY]


def reads_only(view: F) -> F:
    """Mark a view that answers a POST without changing data (a check, a preview, a
    simulation): its request session reads without taking SQLite's write lock, so that it
    neither waits for the writers nor holds them up."""
    view.reads_only = True  # type: ignore[attr-defined]  # a mark read by the session setup
    return view


def get_session() -> Session:
    """The session of the current request (or app context).

    A request that may change data (any method but GET, HEAD and OPTIONS, in a view not
    marked :func:`reads_only`) takes SQLite's write lock with its first statement: a
    transaction that reads and then writes would be refused at once, without waiting, when
    another writer committed in between.
    """
    if "db_session" not in g:
        g.db_session = get_db().session(writes=has_request_context() and _may_write())
    return g.db_session


def _may_write() -> bool:
    if request.method in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "reads_only", False)


def release_session() -> None:
    """End the request session's transaction and hand its connection back to the pool (the
    session starts afresh if used again). For a request about to wait on other threads'
    transactions: holding a pooled connection while waiting could starve the very thread
    it waits for."""
    session = g.get("db_session")
    if session is not None:
        session.close()
