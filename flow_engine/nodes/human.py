"""Human nodes: approval (any-one 或签, all 会签, sequential 依次) with SLA and escalation.

The approval state lives in the waiting token (``wait``): tasks with their status
(``pending``, ``queued``, ``approved``, ``rejected``, ``withdrawn``, ``delegated``, ``added``,
``sent_back``, ``resubmitted``), the checks shown to approvers, and the SLA timers.
``approval_decided``, ``approval_delegated``, ``approval_added`` (加签),
``approval_sent_back`` (退回), ``approval_resubmitted``, ``approval_copied`` (抄送) and
``timer_fired`` events advance it; any of them on a task that is no longer pending is ignored,
so exactly one of two racing actions on a task wins.

A task may carry ``after`` (people added after its assignee: once it is approved they
approve one after another before the approval counts) and ``returns`` (the task of an adder
who added someone before themself: it opens again once this one is approved). A ``kind:
info`` task asks a person for more information; resubmitting it opens the tasks listed in its
``reopen`` again, fresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flow_engine._durations import parse_duration
from flow_engine.effect_kinds import EffectKind
from flow_engine.errors import NodeError
from flow_engine.events import (
    ApprovalAdded,
    ApprovalCopied,
    ApprovalDecided,
    ApprovalDelegated,
    ApprovalResubmitted,
    ApprovalSentBack,
    TimerFired,
)
from flow_engine.model import Node
from flow_engine.nodes._people import compile_people, resolve_people
from flow_engine.nodes.base import (
    ASSIGNEE,
    CONDITION,
    DURATION,
    FALLBACK,
    I18N,
    NO_INPUTS,
    VAR_NAME,
    CompileEnv,
    Exits,
    HandlerBase,
    Ignore,
    Jump,
    Next,
    Runtime,
    Wait,
    field,
    input_reader,
    obj,
)
from flow_engine.state import Token
from rule_dsl import DslError

_PEOPLE = {"type": "array", "minItems": 1, "maxItems": 50, "items": ASSIGNEE}
# What a task carries to the approver's page beyond its assignee: who added it (加签), who
# sent it back or asked for information (退回) and their comment.
_SHOWN = ("position", "added_by", "requested_by", "resubmitted_by", "comment")
_TIMEOUTS = {
    "timeout": "走超时分支",
    "escalate": "升级",
    "approve": "自动通过",
    "reject": "自动拒绝",
}


# An SLA ends in the timeout exit when its action is "timeout" (the default), or "escalate" with
# an escalation duration (the escalation's own deadline): that exit then needs an edge.
TIMEOUT_EXIT = {
    "any": [
        {"all": [{"path": "sla", "present": True},
                 {"path": "sla.on_timeout", "default": "timeout", "in": ["timeout"]}]},
        {"all": [{"path": "sla.on_timeout", "in": ["escalate"]},
                 {"path": "sla.escalation_duration", "present": True}]},
    ]
}  # fmt: skip


class ApprovalHandler(HandlerBase):
    type = "approval"
    exits = Exits(required=("approved", "rejected"), optional=(("timeout", TIMEOUT_EXIT),))
    effects = (
        EffectKind("create_approval_tasks"),
        EffectKind("withdraw_approval_tasks"),
        EffectKind("copy_approval"),
    )
    family = "human"
    title = {"en": "Approval", "zh": "审批"}
    waits = True
    config_schema = obj(
        "Approval",
        "审批",
        {
            "assignees": field(
                _PEOPLE,
                "Approvers",
                "审批人",
                "By role, by user or by expression.",
                "按角色、按用户或按表达式指定。",
            ),
            "mode": field(
                {"enum": ["any", "all", "sequential"], "default": "any"},
                "Mode",
                "审批方式",
                "any: the first decision counts; all: everyone must approve; "
                "sequential: one after another in the listed order.",
                "或签：第一个决定即生效；会签：所有人都须同意；依次：按列表顺序逐个审批。",
                enum_zh={"any": "或签", "all": "会签", "sequential": "依次审批"},
            ),
            "reason": field(I18N, "Why approval is needed", "审批原因"),
            "checks": field(
                {
                    "type": "array",
                    "maxItems": 30,
                    "items": obj(
                        "Check",
                        "自动检查",
                        {
                            "name": field(VAR_NAME, "Name", "名称"),
                            "label": field(I18N, "Label", "显示名"),
                            "expression": field(CONDITION, "Expression", "表达式"),
                        },
                        required=("name", "expression"),
                    ),
                },
                "Checks shown to the approver",
                "展示给审批人的自动检查",
            ),
            "sla": obj(
                "SLA",
                "时限",
                {
                    "duration": field(DURATION, "Decide within", "处理时限"),
                    "reminders": field(
                        {"type": "array", "items": DURATION, "maxItems": 10},
                        "Remind after",
                        "提醒时间",
                        "Offsets from the start of the approval.",
                        "从审批开始算起的时长。",
                    ),
                    "on_timeout": field(
                        {"enum": list(_TIMEOUTS), "default": "timeout"},
                        "On timeout",
                        "超时处理",
                        enum_zh=_TIMEOUTS,
                    ),
                    "escalate_to": field(_PEOPLE, "Escalate to", "升级给"),
                    "escalation_duration": field(DURATION, "Escalation time limit", "升级后时限"),
                    "business_hours": field(
                        {"type": "boolean", "default": False},
                        "Count business hours",
                        "按工作时间计算",
                        "Count only working hours on working days of the business calendar "
                        "(weekends, holidays and make-up working days as the admin keeps them).",
                        "只计算工作日历中工作日的工作时间（周末、节假日和调休上班日以管理员维护的为准）。",
                    ),
                },
                required=("duration",),
            ),
            "fallback": field(
                FALLBACK,
                "Fallback person",
                "后备处理人",
                "Takes the task when an approver entry reaches nobody (no holder, deactivated).",
                "某个审批人条目找不到人（角色无人担任、人员已停用）时，由此人接手任务。",
            ),
            "cc": field(
                {"type": "array", "maxItems": 50, "items": ASSIGNEE},
                "Copy to",
                "抄送",
                "People who may read the approval and its outcome and are notified, but do "
                "not decide.",
                "可以查看审批及其结果并收到通知、但不参与决定的人。",
            ),
            "store_as": field(VAR_NAME, "Store decision as", "结果变量"),
        },
        required=("assignees",),
    )

    def var_schema(self, node: Node) -> dict[str, Any]:
        props = {"decision": {"type": "string"}, "actors": {"type": "array"}}
        return {node.config.get("store_as") or node.id: {"type": "object", "properties": props}}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        sla = cfg.get("sla") or {}
        if sla.get("on_timeout") == "escalate" and not sla.get("escalate_to"):
            env.error(
                "config",
                "sla",
                detail="“On timeout” is “escalate”, so “Escalate to” needs at least one person, "
                "e.g. the role finance_manager",
                detail_zh="超时处理为「升级」时，「升级给」至少需要一位处理人，例如角色 `finance_manager`",
            )
        checks = []
        for i, c in enumerate(cfg.get("checks", ())):
            # a check is shown as passed or failed, so it must be a condition
            expr = env.expression(c["expression"], f"checks/{i}/expression", expect="boolean")
            reader = input_reader(expr.paths) if expr is not None else NO_INPUTS
            checks.append((c["name"], dict(c.get("label") or {}), expr, reader))
        return {
            "people": compile_people(
                cfg["assignees"], env, "assignees", fallback=cfg.get("fallback")
            ),
            "mode": cfg.get("mode", "any"),
            "reason": dict(cfg.get("reason") or {}),
            "checks": tuple(checks),
            "duration": parse_duration(sla["duration"]) if sla else None,
            "reminders": tuple(parse_duration(r) for r in sla.get("reminders", ())),
            "on_timeout": sla.get("on_timeout", "timeout"),
            "escalate_to": compile_people(
                sla.get("escalate_to", ()), env, "sla/escalate_to", fallback=cfg.get("fallback")
            ),
            "escalation_duration": (
                parse_duration(sla["escalation_duration"]) if "escalation_duration" in sla else None
            ),
            "store_as": cfg.get("store_as") or node.id,
            "cc": compile_people(cfg.get("cc", ()), env, "cc"),
            "business": bool(sla.get("business_hours")),
        }

    # -- starting --------------------------------------------------------------------------

    def _new_tasks(
        self, rt: Runtime, people: list[dict[str, str]], sequential: bool
    ) -> list[dict[str, Any]]:
        return [
            {
                "id": rt.new_id("a"),
                "assignee": who,
                "status": "queued" if sequential and i else "pending",
            }
            for i, who in enumerate(people)
        ]

    def _announce(
        self,
        rt: Runtime,
        prep: Mapping[str, Any],
        tasks: list[dict[str, Any]],
        state: Mapping[str, Any],
        kind: str,
    ) -> None:
        fresh = [t for t in tasks if t["status"] == "pending"]
        payload = {
            "kind": kind,
            "order_id": rt.context["order"].get("external_id"),
            "mode": prep["mode"],
            "reason": prep["reason"],
            "checks": state["checks"],
            "tasks": [
                {"id": t["id"], "assignee": t["assignee"], **{k: t[k] for k in _SHOWN if k in t}}
                for t in fresh
            ],
        }
        if state.get("due"):
            payload["due"] = state["due"]
        rt.emit("create_approval_tasks", payload)

    def run(self, prep: Any, rt: Runtime) -> Wait:
        checks = evaluate_checks(prep, rt)
        people = resolve_people(prep["people"], rt, every=prep["mode"] != "any")
        tasks = self._new_tasks(rt, people, prep["mode"] == "sequential")
        later, business = rt.later, prep["business"]
        due = later(prep["duration"], business) if prep["duration"] is not None else None
        reminders, deadline = [], None
        for offset in prep["reminders"]:
            reminders.append(rt.schedule_timer(later(offset, business), "sla_reminder"))
        if due is not None:
            deadline = rt.schedule_timer(due, "sla_deadline")
        timers = [*reminders, *([deadline] if deadline else [])]
        state = {
            "kind": "approval",
            "tasks": tasks,
            "checks": checks,
            "timers": timers,
            "reminders": reminders,
            "deadline": deadline,
            "escalated": False,
            "started_at": rt.now.isoformat(),
            "due": due.isoformat() if due is not None else None,
        }
        self._announce(rt, prep, tasks, state, "approval")
        data = {"checks": checks, "assignees": people, "mode": prep["mode"]}
        if prep["cc"][0]:  # (entries, fallback)
            try:
                copied = resolve_people(prep["cc"], rt, code="no_recipient")
            except NodeError as err:
                # Nobody to copy does not hold up the decision; the run's history says why.
                data["cc_unresolved"] = {"en": err.message, "zh": err.message_zh}
            else:
                rt.emit(
                    "copy_approval", {"task_ids": [tasks[0]["id"]], "people": copied, "by": None}
                )
                data["cc"] = copied
        if due is not None:
            data["due"] = state["due"]
        return Wait(_keyed(state), data)

    # -- events ----------------------------------------------------------------------------

    def resume(
        self, prep: Any, rt: Runtime, token: Token, event: Any
    ) -> Next | Wait | Jump | Ignore:
        state = dict(token.wait or {})
        if isinstance(event, TimerFired):
            return self._timer(prep, rt, state, event.timer_id)
        task_id = event.task_id
        tasks = [dict(t) for t in state["tasks"]]
        task = next((t for t in tasks if t["id"] == task_id), None)
        if task is None:
            return Ignore("unknown_task")
        if task["status"] != "pending":
            decided = task["status"] in ("approved", "rejected")
            return Ignore("task_already_decided" if decided else f"task_{task['status']}")
        state["tasks"] = tasks
        info = task.get("kind") == "info"
        if isinstance(event, ApprovalResubmitted):
            return self._resubmit(prep, rt, state, task, event) if info else Ignore("not_info")
        if info:  # a request for more information is resubmitted, not decided
            return Ignore("task_needs_resubmission")
        if isinstance(event, ApprovalDelegated):
            task["status"] = "delegated"
            task["actor"] = event.actor
            new = {"id": rt.new_id("a"), "assignee": {"user": event.to_user}, "status": "pending"}
            new.update({k: task[k] for k in ("after", "returns") if task.get(k)})
            tasks.insert(tasks.index(task) + 1, new)
            rt.emit("withdraw_approval_tasks", {"task_ids": [task_id], "reason": "delegated"})
            self._announce(rt, prep, [new], state, "delegated")
            return Wait(_keyed(state), {"delegated_to": event.to_user})
        if isinstance(event, ApprovalAdded):
            return self._add(prep, rt, state, task, event)
        if isinstance(event, ApprovalSentBack):
            return self._send_back(prep, rt, state, task, event)
        if isinstance(event, ApprovalCopied):
            users = [str(u) for u in event.users]
            state["cc"] = [*state.get("cc", ()), *users]
            payload = {"task_ids": [task_id], "people": [{"user": u} for u in users]}
            rt.emit("copy_approval", {**payload, "by": event.actor})
            return Wait(_keyed(state), {"cc": users})
        if not isinstance(event, ApprovalDecided) or event.decision not in ("approved", "rejected"):
            return Ignore("invalid_decision")
        task.update(
            status=event.decision,
            actor=event.actor,
            comment=event.comment,
            decided_at=rt.now.isoformat(),
        )
        mode = prep["mode"]
        if event.decision == "rejected":
            return self._finish(prep, rt, state, "rejected", auto=False)
        follow = self._follow_up(prep, rt, state, task)
        if follow is not None:
            return follow
        if mode == "any":
            return self._finish(prep, rt, state, "approved", auto=False)
        if mode == "sequential":
            queued = next((t for t in tasks if t["status"] == "queued"), None)
            if queued is not None:
                queued["status"] = "pending"
                self._announce(rt, prep, [queued], state, "approval")
                return Wait(_keyed(state), {"approved_by": event.actor, "next": queued["id"]})
        elif any(t["status"] == "pending" for t in tasks):
            return Wait(_keyed(state), {"approved_by": event.actor})
        return self._finish(prep, rt, state, "approved", auto=False)

    # -- 加签, 退回, resubmission ---------------------------------------------------------------

    def _follow_up(
        self, prep: Any, rt: Runtime, state: dict[str, Any], task: dict[str, Any]
    ) -> Wait | None:
        """After ``task`` was approved: the next person added after its assignee, or the task
        of the adder who added this one before themself; None when the approval counts."""
        after = list(task.get("after") or ())
        if after:
            new = {"id": rt.new_id("a"), "assignee": {"user": after[0]}, "status": "pending",
                   "position": "after", "added_by": task.get("actor")}  # fmt: skip
            new["after"], new["returns"] = after[1:], task.get("returns")
            kind = "added"
        elif task.get("returns"):
            back = task["returns"]
            new = {"id": rt.new_id("a"), "assignee": back["assignee"], "status": "pending",
                   "after": list(back.get("after") or ()), "returns": back.get("returns")}  # fmt: skip
            kind = "approval"
        else:
            return None
        new = {k: v for k, v in new.items() if v not in (None, [])}
        tasks = state["tasks"]
        tasks.insert(tasks.index(task) + 1, new)
        self._announce(rt, prep, [new], state, kind)
        return Wait(_keyed(state), {"approved_by": task.get("actor"), "next": new["id"]})

    def _add(
        self,
        prep: Any,
        rt: Runtime,
        state: dict[str, Any],
        task: dict[str, Any],
        event: ApprovalAdded,
    ) -> Wait | Ignore:
        if event.position not in ("before", "after") or not event.user:
            return Ignore("invalid_addition")
        if event.position == "after":
            task["after"] = [*task.get("after", ()), event.user]
            return Wait(_keyed(state), {"added_after": event.user})
        task.update(status="added", actor=event.actor, comment=event.comment)
        back = {"assignee": task["assignee"], "after": list(task.get("after") or ())}
        if task.get("returns"):
            back["returns"] = task["returns"]
        new = {"id": rt.new_id("a"), "assignee": {"user": event.user}, "status": "pending",
               "position": "before", "added_by": event.actor, "returns": back}  # fmt: skip
        tasks = state["tasks"]
        tasks.insert(tasks.index(task), new)
        rt.emit("withdraw_approval_tasks", {"task_ids": [task["id"]], "reason": "added_before"})
        self._announce(rt, prep, [new], state, "added")
        return Wait(_keyed(state), {"added_before": event.user})

    def _send_back(
        self,
        prep: Any,
        rt: Runtime,
        state: dict[str, Any],
        task: dict[str, Any],
        event: ApprovalSentBack,
    ) -> Wait | Jump | Ignore:
        tasks = state["tasks"]
        targets = [x for x in (event.to_user, event.to_step, event.to_node) if x]
        if len(targets) != 1:
            return Ignore("invalid_send_back")
        if event.to_step:
            return self._back_to_step(prep, rt, state, task, event)
        if event.to_node:
            return self._back_to_node(rt, state, task, event, event.to_node)
        open_tasks = [t for t in tasks if t["status"] == "pending"]
        reopen = [
            {k: t[k] for k in ("assignee", "after", "returns") if t.get(k)} for t in open_tasks
        ]
        for t in open_tasks:
            t["status"] = "withdrawn"
        task.update(status="sent_back", actor=event.actor, comment=event.comment)
        ask = {"id": rt.new_id("a"), "assignee": {"user": event.to_user}, "status": "pending",
               "kind": "info", "requested_by": event.actor, "comment": event.comment,
               "reopen": reopen}  # fmt: skip
        tasks.insert(tasks.index(task) + 1, ask)
        others = [t["id"] for t in open_tasks if t is not task]
        rt.emit("withdraw_approval_tasks", {"task_ids": [task["id"]], "reason": "sent_back"})
        if others:
            rt.emit("withdraw_approval_tasks", {"task_ids": others, "reason": "sent_back"})
        self._announce(rt, prep, [ask], state, "info")
        return Wait(_keyed(state), {"sent_back_to": event.to_user})

    def _back_to_step(
        self,
        prep: Any,
        rt: Runtime,
        state: dict[str, Any],
        task: dict[str, Any],
        event: ApprovalSentBack,
    ) -> Wait | Ignore:
        tasks = state["tasks"]
        target = next((t for t in tasks if t["id"] == event.to_step), None)
        if (
            prep["mode"] != "sequential"
            or target is None
            or target["status"] != "approved"
            or tasks.index(target) > tasks.index(task)
        ):
            return Ignore("bad_send_back_target")
        between = tasks[tasks.index(target) + 1 : tasks.index(task)]
        again = [target, *(t for t in between if t["status"] == "approved"), task]
        task.update(status="sent_back", actor=event.actor, comment=event.comment)
        fresh = []
        for i, t in enumerate(again):
            new = {"id": rt.new_id("a"), "assignee": t["assignee"],
                   "status": "queued" if i else "pending"}  # fmt: skip
            if t is task and t.get("after"):
                new["after"] = list(t["after"])
            fresh.append(new)
        fresh[0].update(requested_by=event.actor, comment=event.comment)
        at = tasks.index(task) + 1
        tasks[at:at] = fresh
        rt.emit("withdraw_approval_tasks", {"task_ids": [task["id"]], "reason": "sent_back"})
        self._announce(rt, prep, fresh[:1], state, "approval")
        return Wait(_keyed(state), {"sent_back_to_step": target["id"], "next": fresh[0]["id"]})

    def _back_to_node(
        self,
        rt: Runtime,
        state: dict[str, Any],
        task: dict[str, Any],
        event: ApprovalSentBack,
        to_node: str,
    ) -> Jump:
        tasks = state["tasks"]
        open_ids = [t["id"] for t in tasks if t["status"] in ("pending", "queued")]
        task.update(status="sent_back", actor=event.actor, comment=event.comment)
        others = [i for i in open_ids if i != task["id"]]
        rt.emit("withdraw_approval_tasks", {"task_ids": [task["id"]], "reason": "sent_back"})
        if others:
            rt.emit("withdraw_approval_tasks", {"task_ids": others, "reason": "sent_back"})
        for timer_id in state["timers"]:
            rt.cancel_timer(timer_id)
        rt.close_keys(
            {
                f"task:{t['id']}": "task_sent_back"
                if t["id"] in open_ids
                else f"task_{t['status']}"
                for t in tasks
            }
        )
        return Jump(to_node, {"sent_back_to": to_node, "actor": event.actor})

    def _resubmit(
        self,
        prep: Any,
        rt: Runtime,
        state: dict[str, Any],
        task: dict[str, Any],
        event: ApprovalResubmitted,
    ) -> Wait:
        tasks = state["tasks"]
        task.update(status="resubmitted", actor=event.actor, reply=event.comment)
        fresh = []
        for r in task.get("reopen") or ():
            new = {"id": rt.new_id("a"), "status": "pending", **r}
            if event.comment:
                new.update(resubmitted_by=event.actor, comment=event.comment)
            fresh.append(new)
        at = tasks.index(task) + 1
        tasks[at:at] = fresh
        self._announce(rt, prep, fresh, state, "approval")
        return Wait(_keyed(state), {"resubmitted": [t["id"] for t in fresh]})

    def _timer(
        self, prep: Any, rt: Runtime, state: dict[str, Any], timer_id: str
    ) -> Next | Wait | Ignore:
        if timer_id in state["reminders"]:
            state["reminders"] = [t for t in state["reminders"] if t != timer_id]
            state["timers"] = [t for t in state["timers"] if t != timer_id]
            pending = [t for t in state["tasks"] if t["status"] == "pending"]
            rt.emit(
                "notify",
                {
                    "kind": "approval_reminder",
                    "recipients": [t["assignee"] for t in pending],
                    "task_ids": [t["id"] for t in pending],
                    "channels": ["inbox"],
                    "message": {"en": "Approval waiting for you", "zh": "有待您处理的审批"},
                    "params": {
                        "order_id": rt.context["order"].get("external_id"),
                        "due": state.get("due"),
                    },
                },
            )
            return Wait(_keyed(state), {"reminded": [t["id"] for t in pending]})
        if timer_id != state["deadline"]:
            return Ignore("unknown_timer")
        state["timers"] = [t for t in state["timers"] if t != timer_id]
        action = prep["on_timeout"]
        if action == "escalate" and not state["escalated"]:
            return self._escalate(prep, rt, state)
        if action in ("approve", "reject"):
            branch = "approved" if action == "approve" else "rejected"
            return self._finish(prep, rt, state, branch, auto=True)
        return self._finish(prep, rt, state, "timeout", auto=True)

    def _escalate(self, prep: Any, rt: Runtime, state: dict[str, Any]) -> Wait:
        tasks = [dict(t) for t in state["tasks"]]
        withdrawn = [t["id"] for t in tasks if t["status"] in ("pending", "queued")]
        for t in tasks:
            if t["id"] in withdrawn:
                t["status"] = "withdrawn"
        if withdrawn:
            rt.emit("withdraw_approval_tasks", {"task_ids": withdrawn, "reason": "escalated"})
        people = resolve_people(prep["escalate_to"], rt)
        fresh = self._new_tasks(rt, people, sequential=False)
        state.update(tasks=tasks + fresh, escalated=True, deadline=None, due=None)
        if prep["escalation_duration"] is not None:
            due = rt.later(prep["escalation_duration"], prep["business"])
            deadline = rt.schedule_timer(due, "sla_deadline")
            state.update(deadline=deadline, due=due.isoformat())
            state["timers"] = [*state["timers"], deadline]
        self._announce(rt, prep, fresh, state, "escalation")
        return Wait(_keyed(state), {"escalated_to": people})

    def _finish(
        self, prep: Any, rt: Runtime, state: dict[str, Any], branch: str, auto: bool
    ) -> Next:
        tasks = state["tasks"]
        open_ids = [t["id"] for t in tasks if t["status"] in ("pending", "queued")]
        if open_ids:
            rt.emit("withdraw_approval_tasks", {"task_ids": open_ids, "reason": branch})
        for timer_id in state["timers"]:
            rt.cancel_timer(timer_id)
        decided = [t for t in tasks if t["status"] in ("approved", "rejected")]
        rt.close_keys(
            {
                f"task:{t['id']}": "task_already_decided"
                if t["status"] in ("approved", "rejected") or t["id"] in open_ids
                else f"task_{t['status']}"
                for t in tasks
            }
        )
        record = {
            "decision": branch,
            "auto": auto,
            "actors": [t.get("actor") for t in decided],
            "comments": [t.get("comment") for t in decided if t.get("comment")],
            "checks": state["checks"],
        }
        rt.set_var(prep["store_as"], record)
        return Next(branch, {"decision": branch, "auto": auto, "actors": record["actors"]})

    def cancel(self, prep: Any, rt: Runtime, token: Token) -> None:
        state = token.wait or {}
        open_ids = [t["id"] for t in state.get("tasks", ()) if t["status"] in ("pending", "queued")]
        if open_ids:
            rt.emit("withdraw_approval_tasks", {"task_ids": open_ids, "reason": "cancelled"})
        for timer_id in state.get("timers", ()):
            rt.cancel_timer(timer_id)


def evaluate_checks(prep: Any, rt: Runtime, *, tolerant: bool = False) -> list[dict[str, Any]]:
    """The node's checks against the run's data as ``rt`` holds it: name, label, value,
    passed, and the values each check read.

    A check whose expression fails raises (the run goes to incident), unless ``tolerant``:
    then it gets value None and the reason in ``error``.
    """
    checks = []
    for name, label, expr, read_inputs in prep["checks"]:
        # The rule as written travels with the verdict, so that every reader (the task page,
        # the inbox, messages) can say it in business words without the flow document.
        check: dict[str, Any] = {"name": name, "label": label, "rule": expr.source}
        try:
            check["value"] = expr(rt.context, now=rt.now)
        except DslError as err:
            if not tolerant:
                raise
            check["value"], check["error"] = None, err.message
        check["passed"] = check["value"] is True
        check["inputs"] = read_inputs(rt.context)  # the values the check read, shown beside it
        checks.append(check)
    return checks


# Refresh the event keys the runner matches events against.
def _keyed(state: dict[str, Any]) -> dict[str, Any]:
    keys = [f"task:{t['id']}" for t in state["tasks"] if t["status"] in ("pending", "queued")]
    keys += [f"task:{t['id']}" for t in state["tasks"] if t["status"] not in ("pending", "queued")]
    keys += [f"timer:{t}" for t in state["timers"]]
    state["keys"] = keys
    return state
