"""``orderflow api-key create|list|revoke``: the key printed once works on the API until it
is revoked; bad scopes, expiry and unknown keys are refused with what is accepted."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.cli import cli
from app.db import get_session
from app.models import ApiKey, utcnow
from app.security import API_SCOPES

KEY_RE = re.compile(r"of_([0-9a-f]{8})_[A-Za-z0-9_\-]{20,}")


@pytest.fixture
def orderflow(app, app_config, runner):
    """Run ``orderflow ARGS`` on the test app's database, as an integrator on the server."""
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip

    def run(*args: str):
        return runner.invoke(cli, list(args), env=env)

    return run


def _me(client, key: str):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})


def test_create_prints_a_working_key_once_and_revoke_stops_it(app, client, orderflow, caplog):
    caplog.set_level(logging.INFO, logger="app.users.services")
    made = orderflow("api-key", "create", "金蝶 ERP", "--scope", "orders:write",
                     "--scope", "orders:read", "--expires", "90d")  # fmt: skip
    assert made.exit_code == 0, made.output
    keys = KEY_RE.findall(made.output)
    assert len(keys) == 1 and "shown only once" in made.output
    key = KEY_RE.search(made.output).group()
    prefix = keys[0]
    # The same audit line as a key made on the admin page.
    assert f"API key 金蝶 ERP ({prefix}) created by system" in caplog.text
    answer = _me(client, key)
    assert answer.status_code == 200
    assert answer.json == {"name": "金蝶 ERP", "prefix": prefix,
                           "scopes": ["orders:read", "orders:write"]}  # fmt: skip
    with app.app_context():
        row = get_session().scalars(select(ApiKey)).one()
        assert key not in row.key_hash
        assert timedelta(days=89) < row.expires_at - utcnow() <= timedelta(days=90)

    listed = orderflow("api-key", "list")
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if prefix in x)
    assert "金蝶 ERP" in line and "orders:read,orders:write" in line and "active" in line
    assert KEY_RE.search(listed.output) is None  # the secret is never shown again

    revoked = orderflow("api-key", "revoke", prefix)
    assert revoked.exit_code == 0 and f"API key {prefix} (金蝶 ERP) revoked" in revoked.output
    assert f"API key {prefix} revoked by system" in caplog.text
    refused = _me(client, key)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "revoked_api_key"
    line = next(x for x in orderflow("api-key", "list").output.splitlines() if prefix in x)
    assert "revoked" in line


def test_a_key_owned_by_a_user_acts_as_them_and_is_revoked_by_id(app, client, orderflow, make_user):
    make_user("li", roles=("approver",))
    made = orderflow("api-key", "create", "OA", "--scope", "approvals:write", "--owner", "li")
    assert made.exit_code == 0, made.output
    key = KEY_RE.search(made.output).group()
    assert client.get("/api/v1/approvals", headers={"X-API-Key": key}).status_code == 200
    with app.app_context():
        row = get_session().scalars(select(ApiKey)).one()
        assert row.created_by.username == "li" and row.expires_at is None
    assert orderflow("api-key", "revoke", str(row.id)).exit_code == 0
    assert client.get("/api/v1/approvals", headers={"X-API-Key": key}).status_code == 401


REFUSED = [
    # (arguments, what the message says)
    (("create", "ERP", "--scope", "orders:delete"), "'orders:delete' is not one of"),
    (("create", "ERP"), "Missing option '--scope'"),
    (("create", "ERP", "--scope", "orders:read", "--expires", "soon"), "2027-06-30"),
    (("create", "ERP", "--scope", "orders:read", "--expires", "2020-01-01"), "in the past"),
    (("create", "ERP", "--scope", "orders:read", "--expires", "0d"), "in the past"),
    (("create", "ERP", "--scope", "orders:read", "--expires", "9999-12-31T23:59-23:59"),
     "not an expiry"),
    (("create", "ERP", "--scope", "orders:read", "--owner", "ghost"), "no user named ghost"),
    (("create", " ", "--scope", "orders:read"), "a name of 1 to 128 characters"),
    (("revoke", "deadbeef"), "No API key has the prefix or id deadbeef"),
    (("revoke", "99999999999"), "No API key has the prefix or id 99999999999"),
]  # fmt: skip


def test_bad_input_is_refused_with_what_is_accepted(app, orderflow, subtests):
    for args, message in REFUSED:
        with subtests.test(" ".join(args)):
            result = orderflow("api-key", *args)
            assert result.exit_code != 0
            assert message in result.output, result.output
            assert "Traceback" not in result.output
            if "orders:delete" in args:
                assert all(scope in result.output for scope in API_SCOPES)
    with app.app_context():
        assert get_session().scalars(select(ApiKey)).all() == []
