"""Every page has one path: the other spelling (with or without the trailing slash)
redirects to it instead of answering 404."""

from __future__ import annotations

from flask import Flask


def _plain_get_routes(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.rule != "/"
    )


def test_every_page_route_answers_both_spellings(app, client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    routes = _plain_get_routes(app)
    assert {"/flows", "/runs", "/orders/", "/approvals/"} <= set(routes)
    wrong = {}
    for route in routes:
        other = route.rstrip("/") if route.endswith("/") else route + "/"
        response = client.get(other)
        # Werkzeug's own redirect (to the slash form) names the host; ours is a path.
        location = (response.location or "").removeprefix("http://localhost")
        if response.status_code not in (301, 308) or location != route:
            wrong[other] = (response.status_code, response.location)
    assert wrong == {}


def test_redirect_keeps_the_query_and_leaves_unknown_paths_alone(client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    response = client.get("/runs/?status=waiting")
    assert (response.status_code, response.location) == (308, "/runs?status=waiting")
    assert client.get("/flows/").status_code == 308
    assert client.get("/flows/large-order-review/").location == "/flows/large-order-review"
    assert client.get("/nowhere/").status_code == 404
    assert client.post("/runs/").status_code == 404
