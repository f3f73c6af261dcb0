"""JSON columns: exact decimals, ISO datetimes, and the fast encoder writes what simplejson does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import simplejson
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.jsontext import _ENCODER, json_dumps
from app.models import Order

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits takes the fallback
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.text(max_size=8),  # Chinese, emoji and control characters included
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_json_dumps_writes_exactly_what_simplejson_writes(value):
    assert json_dumps(value) == _ENCODER.encode(value)


def test_shared_read_only_mappings_tuples_sets_and_durations_are_stored():
    value = {
        "changes": MappingProxyType({"vars.x": Decimal("12.50")}),
        "path": ("a", "b"),
        "tags": frozenset({"b", "a"}),
        "wait": timedelta(minutes=90),
        1: "int key",
    }
    text = json_dumps(value)
    assert text == _ENCODER.encode(value)
    assert simplejson.loads(text, use_decimal=True) == {
        "changes": {"vars.x": Decimal("12.50")},
        "path": ["a", "b"],
        "tags": ["a", "b"],
        "wait": 5400.0,
        "1": "int key",
    }


def test_decimals_and_datetimes_round_trip_through_a_json_column(app):
    database = get_db(app)
    moment = datetime(2026, 11, 11, 0, 0, 1, 250, tzinfo=UTC)
    data = {"amount": Decimal("1234.50"), "tiny": Decimal("0.0000001"), "at": moment,
            "day": date(2026, 11, 11), "big": 2**80, "城市": "广州"}  # fmt: skip

    def store(db):  # type: ignore[no-untyped-def]
        db.add(Order(channel="taobao", external_id="J-1", tracking_id="t" * 16, status="created",
                     data=data, created_at=moment, updated_at=moment))  # fmt: skip

    in_transaction(database, store)
    with database.session() as db:
        stored = db.scalars(select(Order.data)).one()
    assert stored["amount"] == Decimal("1234.50") and str(stored["amount"]) == "1234.50"
    assert stored["tiny"] == Decimal("0.0000001")
    assert stored["at"] == moment.isoformat() and stored["day"] == "2026-11-11"
    assert stored["big"] == 2**80 and stored["城市"] == "广州"
