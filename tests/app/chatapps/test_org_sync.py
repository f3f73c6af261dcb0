"""The organisation synced from the chat apps' address books, against fakes on loopback that
page two items at a time: the dry run (added, moved, deactivated), apply, a second apply
that changes nothing, tokens expiring mid-sync, identity matching, the admin page, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.channels import vault
from app.chatapps import contacts_dingtalk, orgsync, orgsync_runs, tasks
from app.chatapps import services as chat
from app.cli import cli
from app.db import in_transaction
from app.errors import NotFoundError, ValidationError
from app.models import ChatApp, Department, User

from ..approvals.helpers import approval_doc, approver, db_of, start, tasks_of
from ..conftest import csrf_token
from .fake_dingtalk_contacts import APP_KEY, FakeDingTalkContacts
from .fake_dingtalk_contacts import APP_SECRET as DING_SECRET
from .fake_feishu import APP_ID, APP_SECRET, VERIFICATION_TOKEN, FakeFeishu
from .fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom


@pytest.fixture
def feishu():
    with FakeFeishu() as server:
        server.department("od-sales", "销售部")
        server.department("od-east", "华东销售", parent="od-sales")
        server.department("od-fin", "财务部")
        server.user("ou_li", "李娜", "od-sales", mobile="+86 138 0000 0001")
        server.user("ou_wang", "王伟", "od-fin", leader="ou_li", email="WANG@example.com")
        server.user("ou_zhao", "赵磊", "od-fin", leader="ou_li")
        server.user("ou_xu", "许晴", "od-east", leader="ou_li", email="xu.qing@corp.cn")
        yield server


@pytest.fixture
def db(app, feishu):
    database = db_of(app)
    approver(database, "li", phone="13800000001")
    approver(database, "wang")  # wang@example.com
    approver(database, "zhao", feishu_id="ou_zhao")
    approver(database, "root", roles=("admin",))
    in_transaction(database, lambda s: chat.connect(s, "feishu", APP_ID, {
        "app_secret": APP_SECRET, "verification_token": VERIFICATION_TOKEN}, feishu.url))  # fmt: skip
    return database


def dry_run(app, platform="feishu"):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        result, lines, _counts = orgsync_runs.run(platform, write=False)
        return result, lines


def sync(app, platform="feishu"):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        return orgsync_runs.run(platform, write=True)[2]


def people(database):
    with database.session() as s:
        depts = {d.id: d.key for d in s.scalars(select(Department))}
        names = {u.id: u.username for u in s.scalars(select(User))}
        return {
            u.username: (depts.get(u.department_id), names.get(u.manager_id), u.is_active,
                         u.feishu_id)
            for u in s.scalars(select(User))
        }  # fmt: skip


def test_first_sync_adds_departments_and_people_and_links_by_mobile_and_email(app, db, feishu):
    result, lines = dry_run(app)
    counts = result.counts()
    assert counts["departments_added"] == 3
    assert (counts["added"], counts["linked"], counts["deactivated"]) == (1, 2, 0)
    assert {m.person.id: m.status for m in result.matches} == {
        "ou_li": "matched", "ou_wang": "matched", "ou_zhao": "linked", "ou_xu": "new"}  # fmt: skip
    texts = [line["text"] for line in lines]
    assert "New department 华东销售 (feishu_od_east)" in texts
    assert "li is linked to ou_li (same mobile number or email)" in texts
    assert any(t.startswith("New person xu.qing: ") and "华东销售" in t for t in texts)
    assert people(db)["li"] == (None, None, True, None)  # a dry run changes nothing

    sync(app)
    now = people(db)
    assert now["li"] == ("feishu_od_sales", None, True, "ou_li")
    assert now["wang"] == ("feishu_od_fin", "li", True, "ou_wang")
    assert now["xu.qing"] == ("feishu_od_east", "li", True, "ou_xu")
    with db.session() as s:
        east = s.scalars(select(Department).where(Department.key == "feishu_od_east")).one()
        assert s.get(Department, east.parent_id).key == "feishu_od_sales"
        assert s.scalars(select(User).where(User.username == "xu.qing")).one().email == (
            "xu.qing@corp.cn"
        )


def test_a_moved_person_and_a_deactivated_one_whose_task_is_handed_over(app, db, feishu):
    sync(app)
    run = start(db, approval_doc(assignees=[{"user": "zhao"}]))
    (task,) = tasks_of(db, run.id)
    assert task.assignee == "zhao"
    feishu.users = [u for u in feishu.users if u["open_id"] != "ou_zhao"]
    feishu.users[1]["department_ids"] = ["od-east"]  # wang moves to 华东销售

    result, lines = dry_run(app)
    assert result.deactivate == ["zhao"]
    counts = result.counts()
    assert (counts["moved"], counts["deactivated"], counts["added"]) == (1, 1, 0)
    by_kind = {line["kind"]: line["text"] for line in lines}
    assert by_kind["moved"] == "wang moves: department → 华东销售"
    assert by_kind["deactivated"].startswith("zhao left the address book")
    assert people(db)["zhao"][2] is True

    counts = sync(app)
    assert (counts["moved"], counts["deactivated"], counts["handed_over"]) == (1, 1, 1)
    now = people(db)
    assert now["wang"][0] == "feishu_od_east"
    assert now["zhao"][2] is False
    tasks = {t.assignee: t.status for t in tasks_of(db, run.id)}
    assert tasks["li"] == "pending"  # zhao's manager, as the organisation says
    assert tasks["zhao"] != "pending"

    again, lines = dry_run(app)
    assert not again.changed and lines == []
    before = people(db)
    assert sync(app)["handed_over"] == 0
    assert people(db) == before


def test_a_second_apply_changes_nothing(app, db, feishu):
    sync(app)
    before = people(db)
    result, lines = dry_run(app)
    assert not result.changed
    assert lines == []
    sync(app)
    assert people(db) == before


def test_an_apply_that_fails_part_way_changes_nothing(app, db, feishu, monkeypatch):
    sync(app)
    run = start(db, approval_doc(assignees=[{"user": "zhao"}]))
    feishu.users = [u for u in feishu.users if u["open_id"] not in ("ou_zhao", "ou_wang")]
    feishu.users[0]["department_ids"] = ["od-fin"]  # li moves to 财务部
    feishu.department("od-new", "新部门")
    before = people(db)
    real = orgsync.set_active
    calls: list[str] = []

    def second_fails(s, actor, user, active):
        calls.append(user.username)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(s, actor, user, active)

    monkeypatch.setattr(orgsync, "set_active", second_fails)
    with pytest.raises(RuntimeError), app.test_request_context():
        orgsync_runs.run("feishu", write=True)
    assert len(calls) == 2  # the first deactivation was written in the transaction, then undone
    assert people(db) == before
    with db.session() as s:
        assert s.scalars(select(Department).where(Department.key == "feishu_od_new")).all() == []
    assert {t.assignee: t.status for t in tasks_of(db, run.id)} == {"zhao": "pending"}

    monkeypatch.setattr(orgsync, "set_active", real)
    counts = sync(app)
    assert counts["deactivated"] == 2 and counts["moved"] == 1
    assert people(db)["zhao"][2] is False and people(db)["wang"][2] is False


def test_paging_reads_every_page(app, db, feishu):
    for n in range(5):
        feishu.user(f"ou_p{n}", f"人{n}", "od-fin", leader="ou_wang")
    result, _ = dry_run(app)
    assert feishu.max_page == 2
    assert len(result.matches) == 9
    assert result.counts()["added"] == 6
    # 3 departments in 2 pages; the people of the root, od-sales and od-east (1 page each)
    # and of od-fin (7 people: 4 pages)
    assert result.calls == 2 + 1 + 1 + 1 + 4
    assert feishu.problems == []


def test_the_token_expires_mid_sync(app, db, feishu):
    feishu.expire_at_call = 3
    result, _ = dry_run(app)
    assert len(feishu.tokens_issued) == 2
    assert len(result.matches) == 4


@pytest.mark.parametrize(
    ("contact", "status", "candidates"),
    [
        ({"phone": "138-0000-0001", "email": None}, "matched", ()),  # +86 and dashes aside
        ({"phone": "0086 138 0000 0001", "email": None}, "matched", ()),
        ({"phone": None, "email": " LI@Example.com"}, "matched", ()),  # case and spaces aside
        ({"phone": "13900000000", "email": "nobody@example.com"}, "new", ()),
    ],
)
def test_identity_matching_unique_and_none(app, feishu, contact, status, candidates):
    database = db_of(app)
    approver(database, "li")
    in_transaction(database, lambda s: _set(s, "li", **contact))
    in_transaction(database, lambda s: chat.connect(s, "feishu", APP_ID, {
        "app_secret": APP_SECRET, "verification_token": VERIFICATION_TOKEN}, feishu.url))  # fmt: skip
    feishu.users = feishu.users[:1]
    feishu.users[0]["email"] = "li@example.com"
    result, _ = dry_run(app)
    (match,) = result.matches
    assert (match.status, match.candidates) == (status, candidates)
    assert match.username == ("li" if status == "matched" else None)


def _set(s, name, **fields):
    user = s.scalars(select(User).where(User.username == name)).one()
    for field, value in fields.items():
        setattr(user, field, value)


def test_an_ambiguous_match_is_left_for_the_admin_to_pick(app, db, feishu):
    approver(db, "li2", phone="+86 138 0000 0001")
    result, _ = dry_run(app)
    li = next(m for m in result.matches if m.person.id == "ou_li")
    assert (li.status, li.candidates) == ("ambiguous", ("li", "li2"))
    assert [m.person.id for m in result.review if m.status == "ambiguous"] == ["ou_li"]
    sync(app)
    now = people(db)
    assert now["li"][3] is None and now["li2"][3] is None  # left out until picked
    assert now["wang"][1] is None  # the leader is not known yet
    with app.test_request_context():
        in_transaction(db, lambda s: orgsync.link(s, "feishu", "ou_li", "li2"))
    sync(app)
    now = people(db)
    assert now["li2"][3] == "ou_li" and now["wang"][1] == "li2"


def test_an_unknown_platform_or_one_not_connected_is_refused(app, db):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        with pytest.raises(ValidationError, match="Unknown chat platform slack: use one of"):
            orgsync_runs.run("slack", write=False)
        with pytest.raises(NotFoundError, match="No wecom app is connected"):
            orgsync_runs.run("wecom", write=False)


def test_wecom_address_book_with_cursor_paging_and_token_expiry(app):
    database = db_of(app)
    approver(database, "li", phone="13800000001")
    with FakeWeCom() as wecom:
        wecom.department(1, "总公司", parent=0)
        wecom.department(2, "仓储部")
        wecom.department(3, "上海仓", parent=2)
        wecom.person("LiNa", "李娜", 2, mobile="13800000001")
        wecom.person("WangWei", "王伟", 3, leader="LiNa", leads=True)
        wecom.person("ZhaoLei", "赵磊", 3)  # no direct leader: the head of 上海仓
        wecom.person("Gone", "离职者", 3, status=5)
        in_transaction(database, lambda s: chat.connect(s, "wecom", CORP_ID, {
            "agent_id": AGENT_ID, "secret": SECRET, "token": TOKEN, "aes_key": AES_KEY},
            wecom.url))  # fmt: skip
        result, _ = dry_run(app, "wecom")
        assert sorted(m.person.id for m in result.matches) == ["LiNa", "WangWei", "ZhaoLei"]
        assert result.calls == 1 + 2 + 4  # department/list, 2 pages of ids, 4 user/get
        wecom.expire_tokens()
        sync(app, "wecom")
        assert len(wecom.tokens_issued) == 2
    with database.session() as s:
        got = {u.username: (u.wecom_id, s.get(Department, u.department_id).key if
                            u.department_id else None) for u in s.scalars(select(User))}  # fmt: skip
        assert got == {"li": ("LiNa", "wecom_2"), "WangWei": ("WangWei", "wecom_3"),
                       "ZhaoLei": ("ZhaoLei", "wecom_3")}  # fmt: skip
        managers = {u.username: s.get(User, u.manager_id).username if u.manager_id else None
                    for u in s.scalars(select(User))}  # fmt: skip
        assert managers == {"li": None, "WangWei": "li", "ZhaoLei": "WangWei"}
        shanghai = s.scalars(select(Department).where(Department.key == "wecom_3")).one()
        assert s.get(Department, shanghai.parent_id).name_zh == "仓储部"


def test_dingtalk_address_book_with_its_own_token(app):
    database = db_of(app)
    with FakeDingTalkContacts() as ding:
        ding.department(10, "华南区")
        ding.department(11, "广州办", parent=10)
        for n in range(3):
            ding.user(f"u{n}", f"员工{n}", 11, manager="boss01")
        ding.user("boss01", "老板", 10)

        def connect(s):  # DingTalk apps are connected by the chat apps page of their cards
            s.add(ChatApp(platform="dingtalk", app_id=APP_KEY, base_url=ding.url,
                          sealed=vault.seal({"app_secret": DING_SECRET})))  # fmt: skip

        in_transaction(database, connect)
        result, _ = dry_run(app, "dingtalk")
        assert result.calls == 3 + 1 + 1 + 2  # listsub x3; user/list: root, 10, 11 (2 pages)
        counts = sync(app, "dingtalk")
    assert (counts["added"], counts["departments_added"]) == (4, 2)
    with database.session() as s:
        u0 = s.scalars(select(User).where(User.dingtalk_id == "u0")).one()
        assert s.get(User, u0.manager_id).dingtalk_id == "boss01"
        assert s.get(Department, u0.department_id).key == "dingtalk_11"


def test_the_cli_dry_run_then_apply(app, app_config, db, feishu):
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": app_config["SECRET_KEY"],
           "OUTBOX_ALLOWED_HOSTS": "127.0.0.1"}  # fmt: skip

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["org", "sync", *args, "--lang", "en"], env=env)

    dry = invoke("feishu")
    assert dry.exit_code == 0, dry.output
    assert "[added] New department 销售部 (feishu_od_sales)" in dry.output
    assert "1 added, 3 moved, 0 deactivated" in dry.output, dry.output
    assert "Dry run: nothing changed" in dry.output
    assert people(db)["wang"][3] is None
    done = invoke("feishu", "--apply")
    assert done.exit_code == 0, done.output
    assert people(db)["wang"] == ("feishu_od_fin", "li", True, "ou_wang")
    refused = invoke("slack")
    assert refused.exit_code == 1
    assert "Unknown chat platform slack: use one of feishu, wecom, dingtalk" in refused.output


def test_the_admin_page_dry_run_then_apply(app, client, login, db, feishu):
    approver(db, "li2", phone="13800000001")  # li's mobile twice: to review
    login("root", **{"Accept-Language": "en"})
    page = client.get("/admin/chat-apps/", headers={"Accept-Language": "en"}).get_data(True)
    assert "/admin/chat-apps/feishu/org-sync" in page
    token = csrf_token(client, "/admin/chat-apps/feishu/org-sync")
    form = {"csrf_token": token}
    dry = client.post("/admin/chat-apps/feishu/org-sync/dry-run", data=form, follow_redirects=True,
                      headers={"Accept-Language": "en"}).get_data(True)  # fmt: skip
    assert "New department 华东销售 (feishu_od_east)" in dry
    assert 'name="person" value="ou_li"' in dry  # ambiguous: li or li2
    assert '<option value="li2">li2</option>' in dry
    assert people(db)["wang"][3] is None
    linked = client.post("/admin/chat-apps/feishu/org-sync/link", headers={"Accept-Language": "en"},
                         data={**form, "person": "ou_li", "username": "li2"})  # fmt: skip
    assert linked.status_code == 302
    done = client.post("/admin/chat-apps/feishu/org-sync/apply", data=form,
                       headers={"Accept-Language": "en"}, follow_redirects=True)  # fmt: skip
    text = done.get_data(True)
    assert "Organisation synced: 1 added" in text
    assert "applied" in text
    assert people(db)["wang"] == ("feishu_od_fin", "li2", True, "ou_wang")
    zh = client.post("/admin/chat-apps/feishu/org-sync/dry-run", data=form,
                     headers={"Accept-Language": "zh-CN"}).get_data(True)  # fmt: skip
    assert "组织架构已与通讯录一致" in zh
    assert client.get("/admin/chat-apps/slack/org-sync").status_code == 404


def test_the_nightly_sync_applies_and_keeps_the_last_result(app, client, login, db, feishu):
    login("root")
    token = csrf_token(client, "/admin/chat-apps/feishu/org-sync")
    client.post("/admin/chat-apps/feishu/org-sync/schedule", data={"csrf_token": token,
                                                                    "nightly": "1"})  # fmt: skip
    with app.test_request_context(headers={"Accept-Language": "en"}):
        outcome = orgsync_runs.nightly()
    assert outcome["feishu"]["added"] == 1
    assert people(db)["wang"][3] == "ou_wang"
    with db.session() as s:
        last = s.scalars(select(ChatApp)).one().org_sync_last
    assert last["applied"] is True and last["counts"]["added"] == 1
    feishu.expire_tokens()
    feishu.expire_at_call = None
    with app.test_request_context(headers={"Accept-Language": "en"}):
        in_transaction(db, lambda s: orgsync_runs.set_nightly(s, "feishu", False))
        assert orgsync_runs.nightly() == {}
        # 02:30 in the company's zone (Asia/Shanghai by default) is 18:30 UTC
        assert tasks.due(datetime(2026, 12, 7, 18, 30, tzinfo=UTC))
        assert not tasks.due(datetime(2026, 12, 7, 2, 30, tzinfo=UTC))


def test_an_unwatched_sync_does_not_deactivate_many_and_an_empty_book_is_refused(app, db, feishu):
    for n in range(4):
        feishu.user(f"ou_p{n}", f"人{n}", "od-fin", email=f"p{n}@corp.cn")
    sync(app)
    feishu.users = feishu.users[:4]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        in_transaction(db, lambda s: orgsync_runs.set_nightly(s, "feishu", True))
        outcome = orgsync_runs.nightly()
    assert "The nightly sync stopped: 4 of 8 people linked" in outcome["feishu"]["error"]
    assert all(people(db)[f"p{n}"][2] for n in range(4))
    with db.session() as s:
        assert "stopped" in s.scalars(select(ChatApp)).one().org_sync_last["error"]
    assert sync(app)["deactivated"] == 4  # the admin, watching, applies it
    feishu.users = []
    with pytest.raises(ValidationError, match="The feishu address book lists nobody"):
        dry_run(app)


def test_a_manager_loop_on_the_platform_is_refused_with_the_people_named(app, db, feishu):
    feishu.users[0]["leader_user_id"] = "ou_wang"  # li reports to wang, wang to li
    with pytest.raises(ValidationError, match="address book was not synced: 2 problems") as err:
        dry_run(app)
    assert "the manager chain would go round in a circle" in str(err.value.details)
    assert people(db)["wang"][3] is None


def test_dingtalks_address_book_is_read_from_its_server_api_beside_the_card_api():
    assert (
        contacts_dingtalk.contacts_base("https://api.dingtalk.com") == "https://oapi.dingtalk.com"
    )
    assert (
        contacts_dingtalk.contacts_base("https://api.dingtalk.com/") == "https://oapi.dingtalk.com"
    )
    assert contacts_dingtalk.contacts_base("http://127.0.0.1:9") == "http://127.0.0.1:9"


def test_an_address_book_that_cannot_be_read_is_explained_in_the_readers_language(
    app, client, login, db, feishu
):
    in_transaction(db, lambda s: chat.connect(s, "feishu", APP_ID, {}, "http://127.0.0.1:9"))
    login("root")
    form = {"csrf_token": csrf_token(client, "/admin/chat-apps/feishu/org-sync")}
    for language, said in (
        ("zh-CN", "无法从飞书读取通讯录"),
        ("en", "Could not read the address book from Feishu"),
    ):
        page = client.post("/admin/chat-apps/feishu/org-sync/dry-run", data=form,
                           headers={"Accept-Language": language}, follow_redirects=True)  # fmt: skip
        text = page.get_data(True)
        assert page.status_code == 200 and said in text, text
        assert "请检查应用的接口地址" in text if language == "zh-CN" else "API address" in text
    with db.session() as s:
        last = chat.connected(s, "feishu").org_sync_last
    assert last["error_zh"].startswith("无法从飞书读取通讯录") and last["error"].startswith(
        "Could not"
    )
