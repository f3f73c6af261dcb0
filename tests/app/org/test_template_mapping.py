"""A template bundle's people, roles and departments are mapped at import: the dry run lists
each key; nothing imports with an unmapped one; the mapping rewrites the imported flows."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.bundles import services
from app.cli import cli
from app.db import get_db, get_session, in_transaction
from app.errors import ValidationError
from app.models import BusinessRole, Flow
from app.org.demo import load_demo_org
from templates_lib import builtin_bundles
from tests.app.conftest import csrf_token
from tests.app.org.test_doors import make_org

LARGE = "large-order-finance-review"


def _plan(app: Any, bundle: Any, **options: Any) -> dict[str, Any]:
    with app.app_context():
        return services.dry_run(get_session(), bundle, **options).to_dict()


def _people_items(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    kinds = ("business_role", "person", "department")
    return {i["key"]: i for i in plan["items"] if i["kind"] in kinds}


def _with_assignee(bundle: Any, node: str, assignee: dict[str, str]) -> Any:
    flows = json.loads(json.dumps(bundle.flows))
    for n in flows[0]["nodes"]:
        if n["id"] == node:
            n["config"]["assignees"] = [assignee]
    return dataclasses.replace(bundle, flows=tuple(flows))


def test_the_dry_run_lists_each_role_and_refuses_until_each_is_mapped(app, make_user) -> None:
    make_org(app, make_user)  # has finance and approver, not the others
    bundle = services.get_builtin(LARGE)
    plan = _plan(app, bundle, publish=True, create_fields=True)
    items = _people_items(plan)
    assert {k: i["action"] for k, i in items.items()} == {
        "customer_service": "unmapped", "finance": "unchanged", "general_manager": "unmapped",
    }  # fmt: skip
    assert "large-order-finance-review" in items["general_manager"]["note"]
    assert not plan["ok"]
    assert any(r.startswith("general_manager (business role") for r in plan["refusals"])
    with app.app_context(), pytest.raises(ValidationError) as err:
        services.import_bundle(get_session(), None, bundle, publish=True, create_fields=True)
    assert err.value.code == "import_refused"
    mapped = {"role:general_manager": "approver", "role:customer_service": "new"}
    plan = _plan(app, bundle, publish=True, create_fields=True, people=mapped)
    assert plan["ok"], plan["refusals"]
    items = _people_items(plan)
    assert (items["general_manager"]["action"], items["general_manager"]["target"]) == ("map", "approver")  # fmt: skip
    assert items["customer_service"]["action"] == "create"
    assert "客服 / Customer service" in items["customer_service"]["note"]  # the bundle's names

    def work(db: Any) -> Any:
        services.import_bundle(db, None, bundle, publish=True, create_fields=True, people=mapped)
        return db.scalars(select(Flow).where(Flow.key == LARGE)).one().draft

    with app.app_context():
        draft = in_transaction(get_db(app), work)
        role = get_session().scalars(select(BusinessRole).filter_by(key="customer_service")).one()
        assert (role.name_zh, role.name_en) == ("客服", "Customer service")
    escalate = next(n for n in draft["nodes"] if n["id"] == "finance")["config"]["sla"]
    assert escalate["escalate_to"] == [{"role": "approver"}]  # rewritten as mapped


@pytest.mark.parametrize(
    ("assignee", "kind", "hint"),
    [
        ({"role": "aprover"}, "role", "Did you mean approver (Approver)?"),
        ({"user": "lina"}, "user", "Did you mean li.na (李娜)?"),
        ({"department": "财务"}, "department", "Did you mean finance (Finance)?"),
    ],
)
def test_a_typo_in_a_bundle_is_refused_with_what_was_meant(app, make_user, assignee, kind, hint) -> None:  # fmt: skip
    make_org(app, make_user)
    bundle = _with_assignee(services.get_builtin(LARGE), "finance", assignee)
    people = {"role:general_manager": "new", "role:customer_service": "new"}
    plan = _plan(app, bundle, publish=True, create_fields=True, people=people)
    typo = next(iter(assignee.values()))
    assert not plan["ok"]
    assert any(r.startswith(typo) and hint in r for r in plan["refusals"]), plan["refusals"]
    assert hint in _people_items(plan)[typo]["note"]
    if kind != "role":  # people and departments are never created by an import
        people[f"{kind}:{typo}"] = "new"
        plan = _plan(app, bundle, publish=True, create_fields=True, people=people)
        assert any("only business roles can be created" in r for r in plan["refusals"])


def test_the_import_page_maps_in_chinese(app, client, login, make_user) -> None:
    make_org(app, make_user)
    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, f"/admin/templates/{LARGE}")
    form = {"csrf_token": token, "publish": "1", "create_fields": "1"}
    headers = {"Accept-Language": "zh"}
    page = client.post(f"/admin/templates/{LARGE}/dry-run", data=form, headers=headers)
    text = page.get_data(as_text=True)
    assert 'name="people:role:general_manager"' in text and "未对应" in text
    assert "新建业务角色 general_manager" in text
    form |= {"people:role:general_manager": "finance", "people:role:customer_service": "new",
             "people_zh:role:customer_service": "售后客服", "people_en:role:customer_service": "After-sales"}  # fmt: skip
    done = client.post(f"/admin/templates/{LARGE}/import", data=form, headers=headers)
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]  # to the summary
    with app.app_context():
        role = get_session().scalars(select(BusinessRole).filter_by(key="customer_service")).one()
        flow = get_session().scalars(select(Flow).where(Flow.key == LARGE)).one()
    assert (role.name_zh, role.name_en) == ("售后客服", "After-sales")
    assert flow.published_version == 1


def test_the_command_line_maps_with_map(app, app_config, make_user) -> None:
    make_org(app, make_user)
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    runner = CliRunner(env=env)
    refused = runner.invoke(cli, ["templates", "import", LARGE, "--dry-run"])
    assert (
        refused.exit_code == 1 and "unmapped  business_role     general_manager" in refused.output
    )
    args = ["templates", "import", LARGE, "--publish", "--create-fields",
            "--map", "role:general_manager=finance", "--map", "role:customer_service=new"]  # fmt: skip
    done = runner.invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert "map       business_role     general_manager -> finance" in done.output


def test_every_shipped_template_imports_onto_the_demo_without_mapping(app) -> None:
    with app.app_context():
        in_transaction(get_db(app), load_demo_org)
        for bundle in builtin_bundles():
            plan = services.dry_run(get_session(), bundle, publish=True, create_fields=True)
            people = _people_items(plan.to_dict())
            assert all(i["action"] == "unchanged" for i in people.values()), (bundle.id, people)
            assert not [r for r in plan.refusals if "business role" in r], plan.refusals
