"""API keys: shown once, hashed at rest, scoped, revocable, expirable."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import get_db, get_session
from app.models import ApiKey, utcnow
from app.users import services

from .conftest import csrf_token

KEY_RE = re.compile(r"of_[0-9a-f]{8}_[A-Za-z0-9_\-]{20,}")


def _create_key(app, scopes=("orders:read",), **kw):
    with app.app_context():
        key, plaintext = services.create_api_key(
            get_session(), None, name="ERP", scopes=scopes, **kw
        )
        return key.id, plaintext


def test_key_is_shown_once_and_stored_hashed(app, client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/admin/api-keys")
    page = client.post(
        "/admin/api-keys",
        data={"csrf_token": token, "name": "金蝶 ERP", "scopes": ["orders:write", "orders:read"]},
    ).get_data(as_text=True)
    keys = KEY_RE.findall(page)
    assert len(keys) == 1
    plaintext = keys[0]
    assert KEY_RE.search(client.get("/admin/api-keys").get_data(as_text=True)) is None
    with app.app_context():
        row = get_session().scalars(select(ApiKey)).one()
        assert row.name == "金蝶 ERP" and row.scopes == ["orders:read", "orders:write"]
        assert plaintext not in row.key_hash and row.key_hash != plaintext
        assert plaintext.split("_")[1] == row.prefix


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_valid_key_authenticates(app, client, header):
    _, plaintext = _create_key(app)
    value = f"Bearer {plaintext}" if header == "Authorization" else plaintext
    response = client.get("/api/v1/me", headers={header: value})
    assert response.status_code == 200
    assert response.json == {
        "name": "ERP",
        "prefix": plaintext.split("_")[1],
        "scopes": ["orders:read"],
    }


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "authentication_failed"),
        ({"Authorization": "Bearer nonsense"}, "invalid_api_key"),
        ({"Authorization": "Bearer of_00000000_notarealsecretnotarealsecret"}, "invalid_api_key"),
    ],
)
def test_missing_or_wrong_key_is_refused_with_json(client, headers, code):
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == code


def test_tampered_secret_with_real_prefix_is_refused(app, client):
    _, plaintext = _create_key(app)
    tampered = plaintext[:-3] + ("aaa" if not plaintext.endswith("aaa") else "bbb")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_key_without_scope_is_forbidden(app, client):
    _, plaintext = _create_key(app, scopes=("flows:read",))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "missing_scope"


def test_revoked_key_is_refused(app, client, login, make_user):
    key_id, plaintext = _create_key(app)
    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/admin/api-keys")
    assert (
        client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 401 and response.json["error"]["code"] == "revoked_api_key"


def test_expired_key_is_refused(app, client):
    _, plaintext = _create_key(app, expires_at=utcnow() - timedelta(minutes=1))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 401 and response.json["error"]["code"] == "expired_api_key"


def test_last_use_is_recorded(app, client):
    key_id, plaintext = _create_key(app)
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    with app.app_context():
        assert get_session().get(ApiKey, key_id).last_used_at is not None


@pytest.mark.parametrize(
    ("name", "scopes"),
    [("", ["orders:read"]), ("ERP", []), ("ERP", ["root"]), ("x" * 129, ["orders:read"])],
)
def test_invalid_key_requests_are_refused(app, name, scopes):
    from app.errors import ValidationError

    with app.app_context(), pytest.raises(ValidationError):
        services.create_api_key(get_session(), None, name=name, scopes=scopes)


def test_api_key_pages_need_admin(client, login, make_user):
    make_user("sup", roles=("supervisor",))
    login("sup")
    assert client.get("/admin/api-keys").status_code == 403
    token = csrf_token(client, "/")
    assert (
        client.post("/admin/api-keys", data={"csrf_token": token, "name": "x"}).status_code == 403
    )


def test_a_key_in_use_is_refused_as_soon_as_it_is_revoked(app, client, login, make_user):
    key_id, plaintext = _create_key(app)
    auth = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200  # verified, remembered
    make_user("boss2", roles=("admin",))
    login("boss2")
    token = csrf_token(client, "/admin/api-keys")
    client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token})
    response = client.get("/api/v1/me", headers=auth)
    assert response.status_code == 401 and response.json["error"]["code"] == "revoked_api_key"


def test_a_revocation_by_another_process_applies_within_the_recheck_time(app, client, monkeypatch):
    import time

    from sqlalchemy import update

    from app import security

    key_id, plaintext = _create_key(app)
    auth = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    # Another process revokes the key: this one does not hear of it.
    with get_db(app).engine.begin() as conn:
        conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
    assert client.get("/api/v1/me", headers=auth).status_code == 200  # still trusted
    later = time.monotonic() + security.API_KEY_RECHECK_SECONDS + 0.01
    monkeypatch.setattr(security.time, "monotonic", lambda: later)
    response = client.get("/api/v1/me", headers=auth)
    assert response.status_code == 401 and response.json["error"]["code"] == "revoked_api_key"


def test_a_remembered_key_still_expires_on_time(app, client, monkeypatch):
    from app import security

    _, plaintext = _create_key(app, expires_at=utcnow() + timedelta(seconds=30))
    auth = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    monkeypatch.setattr(security, "utcnow", lambda: utcnow() + timedelta(minutes=1))
    response = client.get("/api/v1/me", headers=auth)
    assert response.status_code == 401 and response.json["error"]["code"] == "expired_api_key"
