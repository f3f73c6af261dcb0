"""Alembic environment: the database comes from OrderFlow's configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.config import load_config, normalise_database_url
from app.db import make_engine
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalise_database_url(
        config.get_main_option("sqlalchemy.url") or load_config()["DATABASE_URL"]
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render OrderFlow's column types as plain SQLAlchemy types in new migrations, so that
    migrations never import model code."""
    import sqlalchemy as sa

    from app.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, sa.JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")  # type: ignore[attr-defined]
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def _run(connection: Connection) -> None:
    # Batch mode lets ALTER TABLE work on SQLite, which cannot alter most constraints: it
    # copies the table, drops the old one and renames the copy. With foreign keys enforced,
    # dropping the old table deletes (ON DELETE CASCADE) every row that refers to it, so a
    # batch change to ``users`` would empty user_roles and the role holders. SQLite ignores
    # the pragma inside a transaction: it is set before the migrations begin and restored
    # after, and ``PRAGMA foreign_key_check`` proves nothing was left dangling.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _foreign_keys(connection, on=False)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if dangling:
                    raise RuntimeError(f"migration left rows without their parent: {dangling}")
    finally:
        if sqlite:
            _foreign_keys(connection, on=True)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Set SQLite's foreign key enforcement outside any transaction (SQLAlchemy would open
    one around a statement it runs, so the pragma goes to the driver's connection)."""
    if connection.in_transaction():
        connection.commit()
    raw = connection.connection.dbapi_connection
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
