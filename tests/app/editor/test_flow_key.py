"""A new flow's key is made from its name's pinyin, and a key is checked with a reason and an
example in the reader's language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import get_session
from app.models import Flow
from app.pinyin import slug
from tests.app.conftest import csrf_token

from .helpers import review_doc, store


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("大额订单审批", "da_e_ding_dan_shen_pi"),
        ("重庆仓路由", "chong_qing_cang_lu_you"),  # a word's own reading
        ("VIP客户审核 2号", "vip_ke_hu_shen_he_2_hao"),
        ("Large order review!", "large_order_review"),
        ("——", ""),
    ],
)
def test_slug_is_readable_pinyin(name, key):
    assert slug(name) == key


def test_slug_stops_at_a_word_within_the_limit():
    key = slug("长" * 50)
    assert len(key) <= 64 and key.endswith("chang") and "__" not in key


@pytest.fixture
def supervisor(client, login, make_user):
    make_user("wang", roles=("supervisor",))
    login("wang")
    return client


def _check(client, lang: str, **params):
    res = client.get(
        "/flows/editor/key",
        query_string=params,
        headers={"Accept": "application/json", "Accept-Language": lang},
    )
    assert res.status_code == 200
    return res.get_json()


def test_key_check_suggests_a_free_key_and_names_what_is_wrong(app, supervisor):
    assert _check(supervisor, "zh", name="大额订单审批") == {
        "suggestion": "da_e_ding_dan_shen_pi", "ok": True, "message": None,
    }  # fmt: skip
    store(app, review_doc("da_e_ding_dan_shen_pi"))
    taken = _check(supervisor, "zh", name="大额订单审批", key="da_e_ding_dan_shen_pi")
    assert taken["suggestion"] == "da_e_ding_dan_shen_pi_2" and taken["ok"] is False
    assert (
        taken["message"]
        == "已有流程使用标识 da_e_ding_dan_shen_pi，请换一个，例如 da_e_ding_dan_shen_pi_2。"
    )
    bad = _check(supervisor, "en", key="Bad Key!")
    assert bad["ok"] is False and "e.g. da_e_ding_dan_shen_pi" in bad["message"]
    assert _check(supervisor, "en", key="import")["message"].startswith("import is reserved")


def test_key_check_needs_edit_permission(client, login, make_user):
    make_user("vic", roles=("viewer",))
    login("vic")
    assert (
        client.get("/flows/editor/key?name=x", headers={"Accept": "application/json"}).status_code
        == 403
    )


def test_a_flow_created_without_a_key_takes_the_pinyin_of_its_name(app, supervisor):
    token = csrf_token(supervisor, "/flows")
    made = supervisor.post(
        "/flows", data={"csrf_token": token, "name_zh": "大额订单审批", "key": ""}
    )
    assert made.headers["Location"].endswith("/flows/da_e_ding_dan_shen_pi")
    again = supervisor.post(
        "/flows", data={"csrf_token": token, "name_zh": "大额订单审批", "key": ""}
    )
    assert again.headers["Location"].endswith("/flows/da_e_ding_dan_shen_pi_2")
    taken = supervisor.post(
        "/flows",
        data={"csrf_token": token, "name_zh": "x", "key": "da_e_ding_dan_shen_pi"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "Another flow already has the key da_e_ding_dan_shen_pi" in taken.get_data(as_text=True)
    with app.app_context():
        keys = set(get_session().scalars(select(Flow.key)))
    assert keys == {"da_e_ding_dan_shen_pi", "da_e_ding_dan_shen_pi_2"}
