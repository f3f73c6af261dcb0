"""The demo's organisation: a mid-size distributor with a general office, finance, a warehouse
department with two warehouse teams, customer service and quality, so the demo's approvals and
notifications reach real people instead of waiting for nobody.

Loading it again changes nothing that exists: people, departments, roles and holders are
matched by key and left as they are.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import BusinessRole, Department, RoleHolder, User
from ..users import services as users

# key, zh, en, parent, head
DEPARTMENTS = (
    ("gm_office", "总经办", "General office", None, "zhou.jian"),
    ("finance", "财务部", "Finance", "gm_office", "li.na"),
    ("warehousing", "仓储部", "Warehousing", "gm_office", "sun.hao"),
    ("wh_hz", "杭州仓", "Hangzhou warehouse", "warehousing", "zhao.lei"),
    ("wh_gz", "广州仓", "Guangzhou warehouse", "warehousing", "chen.jing"),
    ("customer_service", "客服部", "Customer service", "gm_office", "liu.yang"),
    ("quality", "质量部", "Quality", "gm_office", "wu.min"),
)
# username, display name, access roles, department, manager (the demo login users included)
PEOPLE = (
    ("zhou.jian", "周建", ("approver",), "gm_office", None),
    ("supervisor", "流程主管 王敏", ("supervisor",), "gm_office", "zhou.jian"),
    ("li.na", "李娜", ("approver",), "finance", "zhou.jian"),
    ("approver", "财务审批 李强", ("approver",), "finance", "li.na"),
    ("sun.hao", "孙浩", ("approver",), "warehousing", "zhou.jian"),
    ("zhao.lei", "赵磊", ("approver",), "wh_hz", "sun.hao"),
    ("chen.jing", "陈静", ("approver",), "wh_gz", "sun.hao"),
    ("liu.yang", "刘洋", ("approver",), "customer_service", "zhou.jian"),
    ("he.fang", "何芳", ("approver",), "customer_service", "liu.yang"),
    ("wu.min", "吴敏", ("approver",), "quality", "zhou.jian"),
)
# key, zh, en, scope table, holders as (username, scope)
ROLES = (
    ("general_manager", "总经理", "General manager", None, (("zhou.jian", ""),)),
    ("ops_supervisor", "运营主管", "Operations supervisor", None, (("supervisor", ""),)),
    ("finance", "财务", "Finance", None, (("li.na", ""), ("approver", ""))),
    (
        "warehouse_lead",
        "仓库主管",
        "Warehouse lead",
        "warehouses",
        (("zhao.lei", "LV-HZ"), ("chen.jing", "LV-GZ")),
    ),
    ("customer_service", "客服", "Customer service", None, (("liu.yang", ""), ("he.fang", ""))),
    ("pharmacist", "执业药师", "Licensed pharmacist", None, (("wu.min", ""),)),
)
PASSWORD = "orderflow-demo"  # noqa: S105 (the demo's published password, shown by the command)


def load_demo_org(db: Session) -> list[str]:
    """Create what is missing of the demo organisation; one line per person for the command."""
    people = {u.username: u for u in db.scalars(select(User))}
    lines = []
    for username, name, roles, _dept, _manager in PEOPLE:
        if username in people:
            continue
        people[username] = users.create_user(
            db, None, username=username, password=PASSWORD, roles=roles, display_name=name
        )
        lines.append(f"  {username:<11} {PASSWORD:<22} {', '.join(roles)}")
    depts = {d.key: d for d in db.scalars(select(Department))}
    for key, zh, en, parent, head in DEPARTMENTS:
        if key not in depts:
            depts[key] = Department(key=key, name_zh=zh, name_en=en)
            depts[key].parent_id = depts[parent].id if parent else None
            depts[key].head_id = people[head].id
            db.add(depts[key])
            db.flush()
    for username, _name, _roles, dept, manager in PEOPLE:
        person = people[username]
        if person.department_id is None:
            person.department_id = depts[dept].id
        if person.manager_id is None and manager:
            person.manager_id = people[manager].id
    business_roles = {r.key: r for r in db.scalars(select(BusinessRole))}
    held: set[tuple[int, int, str]] = set(
        db.execute(select(RoleHolder.role_id, RoleHolder.user_id, RoleHolder.scope))
    )
    for key, zh, en, table, holders in ROLES:
        if key not in business_roles:
            business_roles[key] = BusinessRole(key=key, name_zh=zh, name_en=en, scope_table=table)
            db.add(business_roles[key])
            db.flush()
        role = business_roles[key]
        for username, scope in holders:
            if (role.id, people[username].id, scope) not in held:
                db.add(RoleHolder(role_id=role.id, user_id=people[username].id, scope=scope))
    db.flush()
    return lines
