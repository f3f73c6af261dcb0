"""The public tracking page, the live orders board and order detail page, rate limits."""

from __future__ import annotations

import re

import simplejson

from ..flows_fixtures import order_doc


def _order(api, external_id: str = "T1", amount: str = "4321.00") -> dict:
    body = simplejson.dumps(order_doc(external_id, amount), use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json").json


def _ship(api, order: dict, code: str = "SHIPPED", at: str = "2026-11-21T10:00:00+08:00"):
    return api.post("/status-events", json={
        "source": "wms", "event_id": f"{code}-{at}", "code": code, "occurred_at": at,
        "order": {"id": order["id"]}, "location": "广州仓"})  # fmt: skip


def test_tracking_page_shows_state_and_milestones_without_internal_data(api, client):
    order = _order(api)
    _ship(api, order)
    page = client.get(f"/track/{order['tracking_id']}", headers={"Accept-Language": "zh"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-state="shipped"' in text and "已发货" in text and "已下单" in text
    assert "2026-11-21 10:00" in text  # China time for Chinese readers
    assert "广州仓" in text
    for secret in ("4321", "李娜", "C-1", "SKU-1", "gold", "广东"):
        assert secret not in text
    english = client.get(f"/track/{order['tracking_id']}", headers={"Accept-Language": "en"})
    assert "Shipped" in english.get_data(as_text=True)
    # one clock: the company's zone in every language, its offset said once
    assert "2026-11-21 10:00" in english.get_data(as_text=True)
    assert "2026-11-20 10:00" in english.get_data(as_text=True)  # placed
    assert "(UTC+08:00)" in english.get_data(as_text=True)
    assert 'name="viewport"' in text


def test_tracking_page_fragment_for_htmx_and_unknown_ids(api, client):
    order = _order(api)
    fragment = client.get(f"/track/{order['tracking_id']}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    for wrong in ("doesnotexist123", "x", "../../etc"):
        assert client.get(f"/track/{wrong}").status_code == 404


def test_tracking_page_is_rate_limited(app, api, client):
    order = _order(api)
    app.config["RATELIMIT_PUBLIC"] = "3/60"
    statuses = [client.get(f"/track/{order['tracking_id']}").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.get(f"/track/{order['tracking_id']}")
    assert int(limited.headers["Retry-After"]) >= 1


def test_api_rate_limit_answers_429_with_the_error_shape(app, api):
    app.config["RATELIMIT_API"] = "2/60"
    assert api.get("/orders").status_code == 200
    assert api.get("/orders").status_code == 200
    limited = api.get("/orders")
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


def test_made_up_keys_cannot_dodge_the_limit_by_changing_prefix(app, api, client):
    app.config["RATELIMIT_API_AUTH_ADDRESS"] = "3/60"
    statuses = [
        client.get(
            "/api/v1/orders", headers={"Authorization": f"Bearer of_{i:08x}_nope"}
        ).status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    refused = client.get("/api/v1/orders", headers={"Authorization": "Bearer of_feedbeef_x"})
    assert (
        refused.json["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    )


def _version(html: str) -> str:
    """The version the board or order fragment carries (the page header's badges carry one
    of their own, before it)."""
    found = re.findall(r'<input type="hidden" name="v" value="([^"]*)">', html)
    assert found, "the live fragment carries its version"
    return found[-1]


def test_board_and_detail_update_live(api, client, make_user, login):
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    order = _order(api, "B1")
    board = client.get("/orders/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in board
    assert 'data-testid="count-created">1<' in board
    shown = _version(board)
    poll = {"HX-Request": "true"}
    # Nothing changed: the poll gets an empty 204, which htmx does not swap in.
    idle = client.get(f"/orders/?v={shown}", headers=poll)
    assert (idle.status_code, idle.data) == (204, b"")
    _ship(api, order)
    changed = client.get(f"/orders/?v={shown}", headers=poll)
    assert changed.status_code == 200
    fragment = changed.get_data(as_text=True)
    assert "<html" not in fragment
    assert 'data-testid="count-shipped">1<' in fragment
    assert 'data-testid="count-created">0<' in fragment
    assert _version(fragment) != shown
    # A new order changes the board too.
    _order(api, "B2")
    assert client.get(f"/orders/?v={_version(fragment)}", headers=poll).status_code == 200
    # A full page load always renders, whatever version it names.
    assert client.get(f"/orders/?v={_version(fragment)}").status_code == 200

    detail = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in detail and 'data-state="shipped"' in detail
    shown = _version(detail)
    assert client.get(f"/orders/{order['id']}?v={shown}", headers=poll).status_code == 204
    _ship(api, order, "SHIPPED", "2026-11-21T11:00:00+08:00")  # a late event: same state
    live = client.get(f"/orders/{order['id']}?v={shown}", headers=poll)
    assert live.status_code == 200
    assert live.get_data(as_text=True).count("<tr><td>wms</td>") == 2
    assert client.get("/orders/424242").status_code == 404


def test_order_pages_need_a_login(client):
    assert client.get("/orders/").status_code == 302


def test_admin_adds_and_removes_a_custom_field(app, api, client, make_user, login):
    from ..conftest import csrf_token

    make_user("root", roles=("admin",))
    login("root")
    token = csrf_token(client, "/orders/fields")
    added = client.post("/orders/fields", data={
        "csrf_token": token, "name": "region_code", "type": "string", "label_zh": "大区",
        "label_en": "Region", "options": "north, south", "required": "on"})  # fmt: skip
    assert added.status_code == 302
    assert "<code>custom.region_code</code>" in client.get("/orders/fields").get_data(as_text=True)
    refused = _order(api, "CF-1")
    assert refused["error"]["details"][0]["path"] == "/custom"
    client.post("/orders/fields/region_code/delete", data={"csrf_token": token})
    assert _order(api, "CF-1")["external_id"] == "CF-1"


def test_custom_fields_page_is_for_admins(client, make_user, login):
    make_user("viewer2", roles=("viewer",))
    login("viewer2")
    assert client.get("/orders/fields").status_code == 403
