"""Validation issues: one problem in a flow document, with where it is and what it means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"

# code -> (English, Chinese); ``{name}`` placeholders are filled from the issue parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    "schema": ("Flow document: {detail}", "流程文档：{detail_zh}"),
    "config": ("Node '{node}': {detail}", "节点「{node_zh}」：{detail_zh}"),
    "unknown_format_version": (
        "Unknown format_version {version}.",
        "未知的格式版本 {version}。",
    ),
    "duplicate_node_id": ("Node id '{id}' is used more than once.", "节点编号“{id}”重复。"),
    "duplicate_edge_id": ("Edge id '{id}' is used more than once.", "连线编号“{id}”重复。"),
    "no_start": ("The flow has no start node.", "流程没有开始节点。"),
    "multiple_starts": (
        "The flow has {count} start nodes; exactly one is allowed.",
        "流程有 {count} 个开始节点，只能有一个。",
    ),
    "start_has_incoming": (
        "The start node cannot have incoming edges.",
        "开始节点不能有进入的连线。",
    ),
    "end_has_outgoing": ("An end node cannot have outgoing edges.", "结束节点不能有流出的连线。"),
    "dangling_edge": (
        "Edge {edge} points {side} node '{target}', which does not exist.",
        "连线 {edge} 的{side_zh}节点“{target}”不存在。",
    ),
    "unreachable_node": (
        "Node '{id}' cannot be reached from the start node.",
        "节点“{id}”无法从开始节点到达。",
    ),
    "dead_end": (
        "Node '{id}' has no outgoing edge; only end nodes may stop a path.",
        "节点“{id}”没有流出的连线；只有结束节点可以终止路径。",
    ),
    "branch_not_connected": (
        "Branch '{branch}' of node '{id}' is not connected.",
        "节点“{id}”的分支“{branch}”没有连线。",
    ),
    "unknown_branch": (
        "Node '{id}' has no branch '{branch}' (expected one of: {expected}).",
        "节点“{id}”没有分支“{branch}”（可用分支：{expected}）。",
    ),
    "duplicate_branch": (
        "Branch '{branch}' of node '{id}' has more than one edge.",
        "节点“{id}”的分支“{branch}”有多条连线。",
    ),
    "parallel_needs_branches": (
        "Parallel node '{id}' needs at least two outgoing edges.",
        "并行节点“{id}”至少需要两条流出的连线。",
    ),
    "cycle_without_wait": (
        "Nodes {nodes} form a loop with no wait node (timer, wait_event, approval, merge) in it.",
        "节点 {nodes} 构成循环，且循环中没有等待节点（定时、等待事件、审批、合单）。",
    ),
    "join_without_split": (
        "Join '{id}' is not closing any parallel split.",
        "汇聚节点“{id}”没有对应的并行拆分。",
    ),
    "join_multiple_splits": (
        "Join '{id}' closes more than one split ({splits}); give each split its own join.",
        "汇聚节点“{id}”对应多个拆分（{splits}），每个拆分需要自己的汇聚节点。",
    ),
    "split_multiple_joins": (
        "Branches of '{id}' reach different joins ({joins}).",
        "节点“{id}”的分支到达了不同的汇聚节点（{joins}）。",
    ),
    "join_entered_from_outside": (
        "Join '{id}' closes split '{split}' but is also entered from {nodes} outside it.",
        "汇聚节点“{id}”对应拆分“{split}”，但还有来自拆分之外的节点 {nodes} 的连线。",
    ),
    "invalid_url": (
        "Node '{node}': field '{field}' is not a usable address ({url!r}): {reason}. "
        "Give an http:// or https:// address with a host, e.g. {example}.",
        "节点“{node}”：字段“{field}”不是可用的地址（{url!r}）：{reason_zh}。"
        "请填写带主机名的 http:// 或 https:// 地址，例如 {example}。",
    ),
    "reserved_header": (
        "Node '{node}': header '{header}' is reserved. The outbox sets {reserved} itself: "
        "receivers check X-OrderFlow-Signature and deduplicate on Idempotency-Key, and the "
        "others frame the request. Remove it from 'headers'.",
        "节点“{node}”：请求头“{header}”是保留请求头。{reserved} 由发件箱自行设置："
        "接收方依靠 X-OrderFlow-Signature 验签、依靠 Idempotency-Key 去重，其余请求头决定请求格式。"
        "请从“请求头”中删除它。",
    ),
    "invalid_header": (
        "Node '{node}': header '{header}' cannot be sent: {reason}.",
        "节点“{node}”：请求头“{header}”无法发送：{reason_zh}。",
    ),
    "invalid_duration": (
        "Node '{node}': {field} '{value}' is not a duration we can read. "
        "Write e.g. 4h, 2d 4h, 30m, 2 hours, 30 min, 1.5h.",
        "节点「{node_zh}」的{field_zh}「{value}」无法识别。可以写：4h、2d 4h、4小时、2天、30分钟、半小时。",
    ),
    "duration_too_long": (
        "Node '{node}': {field} '{value}' is longer than 10 years; give a shorter duration.",
        "节点「{node_zh}」的{field_zh}「{value}」超过 10 年，请填写更短的时长。",
    ),
    "expression": ("{detail}", "{detail_zh}"),
    "field_not_declared": (
        "Field {field} is not declared on the order; declare it under custom fields to store "
        "it. Until then the flow's value stays in the run only (the order, the API and other "
        "flows do not see it).",
        "订单上没有声明字段 {field}；请在自定义字段中声明后才会保存到订单。在此之前，流程设置的值只保存在"
        "本次运行中（订单、API 和其他流程都看不到）。",
    ),
    "table_finding": ("Decision table {kind}: {detail}", "决策表{kind_zh}：{detail_zh}"),
    "table_can_miss": (
        "Decision table '{name}' can miss: {detail}. An order there would go on with no "
        "decision, so the flow cannot be published. Add a default row (every input '-') "
        'or connect the table\'s "no match" exit.',
        "决策表“{name_zh}”存在未命中的情况：{detail_zh}。落在这里的订单将没有任何决策，"
        "因此流程无法发布。请添加一条默认行（所有输入均为“-”），或连接该节点的“未命中”出口。",
    ),
    "route_no_candidate_exit": (
        "Route '{name}': its \"none\" exit (no candidate) is not connected. When no {table} "
        "meets the constraints the run would stop in an incident, so the flow cannot be "
        'published. Connect the "none" exit (e.g. to a manual-handling step).',
        "路由“{name_zh}”的“无可选”（none）出口没有连线。没有{table_zh}满足约束时运行会停在异常上，"
        "因此流程无法发布。请连接“无可选”出口（例如连到人工处理）。",
    ),
}
# Warnings while a draft is edited (drafts may be incomplete) that publishing refuses.
REFUSED_AT_PUBLISH = frozenset({"table_can_miss", "route_no_candidate_exit"})


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem found in a flow document."""

    code: str
    path: str
    message: str
    message_zh: str
    node_id: str | None = None
    severity: str = ERROR
    dsl: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (what the editor and the CLI show)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "node_id": self.node_id,
            "message": self.message,
            "message_zh": self.message_zh,
            "dsl": dict(self.dsl) if self.dsl is not None else None,
        }


def make_issue(
    code: str,
    path: str,
    *,
    node_id: str | None = None,
    severity: str = ERROR,
    dsl: Mapping[str, Any] | None = None,
    **params: Any,
) -> ValidationIssue:
    """Build an issue with its English and Chinese messages from ``MESSAGES``."""
    en, zh = MESSAGES[code]
    params.setdefault("detail_zh", params.get("detail", ""))
    params.setdefault("node", node_id or "")
    params.setdefault("node_zh", params["node"])
    return ValidationIssue(
        code=code,
        path=path,
        message=en.format(**params),
        message_zh=zh.format(**params),
        node_id=node_id,
        severity=severity,
        dsl=dsl,
    )
