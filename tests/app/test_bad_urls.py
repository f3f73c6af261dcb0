"""Ids beyond the database's integer range in any URL, and nonsense in the query string of
the pages that read numbers or dates from it: a 404 or a clear refusal, never a 500."""

from __future__ import annotations

import re
from functools import partial

from flask import Flask
from werkzeug.routing import IntegerConverter

from .conftest import csrf_token

HUGE_IDS = ("2147483648", "99999999999999999999999")  # past 32 and 64 bits
ARG = re.compile(r"<(?:([a-z]+)(?:\(([^)]*)\))?:)?(\w+)>")


def _int_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, URL template with {id} for each numeric argument, endpoint) of every route
    that takes a number in its path."""
    routes = []
    for rule in app.url_map.iter_rules():
        numeric = [name for name, conv in rule._converters.items() if _is_numeric(conv)]
        if not numeric:
            continue

        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]
        routes.append((method, ARG.sub(partial(_fill, numeric), rule.rule), rule.endpoint))
    return routes


def _fill(numeric: list[str], match: re.Match) -> str:
    kind, options, name = match.groups()
    if name in numeric:
        return "{id}"
    if kind == "any":
        return options.split(",")[0].strip().strip("'\"")
    return "x"


def _is_numeric(converter: object) -> bool:
    return isinstance(converter, IntegerConverter) or "[0-9]" in getattr(converter, "regex", "")


def test_every_route_refuses_ids_beyond_the_database_range_with_404(app, client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/orders/")
    routes = _int_routes(app)
    assert len(routes) >= 20  # pages and API: the enumeration found them
    answers = {}
    for method, template, endpoint in routes:
        for huge in HUGE_IDS:
            url = template.format(id=huge)
            data = {"csrf_token": token} if method != "GET" else None
            response = client.open(url, method=method, data=data, headers={"X-CSRFToken": token})
            if response.status_code != 404:
                answers[f"{method} {url} ({endpoint})"] = response.status_code
    assert answers == {}


def test_no_route_uses_the_unbounded_int_converter(app):
    unbounded = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if any(type(c) is IntegerConverter for c in rule._converters.values())
    ]
    assert unbounded == []


NONSENSE = {
    "number": ("99999999999999999999999", "2147483648", "-1", "0", "abc", "1e309", "inf", "nan"),
    "date": ("9999-12-31", "0001-01-01", "99999-01-01", "2026-13-45", "abc"),
    "time": ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01", "abc"),
}
# (page, parameter, kind of nonsense to send, other parameters it needs to be read)
QUERY_PARAMS = [
    ("/runs", "page", "number", {}),
    ("/runs", "version", "number", {}),
    ("/alerts/", "page", "number", {}),
    ("/approvals/", "page", "number", {}),
    ("/admin/notifications/", "edit", "number", {}),
    ("/admin/calendar/", "year", "number", {}),
    ("/admin/calendar/", "start", "time", {"hours": "8"}),
    ("/admin/calendar/", "hours", "number", {"start": "2026-09-30T15:00"}),
    ("/dashboard/", "compare", "number", {}),
    ("/dashboard/", "from", "date", {"to": "2026-11-07"}),
    ("/dashboard/", "to", "date", {"from": "2026-11-01"}),
    ("/dashboard/data.json", "to", "date", {"from": "2026-11-01"}),
    ("/costs/", "to", "date", {"from": "2026-11-01"}),
    ("/api/v1/orders", "limit", "number", {}),
    ("/api/v1/orders", "created_from", "time", {}),
    ("/api/v1/orders", "created_to", "time", {}),
    ("/api/v1/runs", "order_id", "number", {}),
    ("/api/v1/dashboard", "to", "date", {"from": "2026-11-01"}),
]


def test_nonsense_in_the_query_string_is_refused_or_ignored(app, client, login, make_user):
    from app.db import get_session
    from app.security import API_SCOPES
    from app.users import services

    make_user("boss", roles=("admin",))
    login("boss")
    with app.app_context():
        _, key = services.create_api_key(get_session(), None, name="probe", scopes=API_SCOPES)
    failures = {}
    for page, name, kind, others in QUERY_PARAMS:
        for value in NONSENSE[kind]:
            response = client.get(
                page, query_string={**others, name: value}, headers={"X-API-Key": key}
            )
            if response.status_code not in (200, 400, 404, 422):
                failures[f"{page}?{name}={value}"] = response.status_code
    assert failures == {}


def test_ids_past_the_range_in_forms_are_not_found(client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/alerts/")
    huge = "99999999999999999999999"
    channel = client.post("/admin/notifications/channels", data={
        "csrf_token": token, "id": huge, "name": "x", "kind": "email"})  # fmt: skip
    assert channel.status_code in (302, 404)
    alerts = client.post("/alerts/bulk", data={"csrf_token": token, "action": "resolve",
                                               "alert": [huge, "2147483648"]})  # fmt: skip
    assert alerts.status_code in (200, 302)
