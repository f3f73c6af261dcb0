"""Graph checks on a flow: starts, dangling edges, branches, reachability, loops, joins."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from flow_engine.issues import ValidationIssue, make_issue
from flow_engine.model import Edge, Flow, Node


def _label(branch: str | None) -> str:
    return branch if branch is not None else "next"


def is_fork(node: Node) -> bool:
    """Nodes whose exits run concurrently and must be closed by a join."""
    return node.type == "parallel" or (node.type == "switch" and node.config.get("mode") == "all")


class GraphCheck:
    """Runs every graph check and collects issues; ``edges`` keeps only valid edges."""

    def __init__(
        self, flow: Flow, handlers: Mapping[str, Any], valid_config: set[int] | None = None
    ) -> None:
        self.flow = flow
        self.handlers = handlers
        # Exits are derived from the config, so they are only checked where it is valid.
        self.valid_config = valid_config
        self.issues: list[ValidationIssue] = []
        self.nodes: dict[str, Node] = {}
        self.out: dict[str, list[Edge]] = defaultdict(list)
        self.inc: dict[str, list[Edge]] = defaultdict(list)

    def run(self) -> list[ValidationIssue]:
        self._ids()
        self._edges()
        start = self._start()
        self._branches()
        if start is not None:
            self._reachable(start)
        self._loops()
        self._joins()
        return self.issues

    def _node_issue(self, code: str, node: Node, suffix: str = "", **params: Any) -> None:
        path = f"/nodes/{node.index}{suffix}"
        self.issues.append(make_issue(code, path, node_id=node.id, **params))

    def _ids(self) -> None:
        for node in self.flow.nodes:
            if node.id in self.nodes:
                self._node_issue("duplicate_node_id", node, "/id", id=node.id)
            else:
                self.nodes[node.id] = node
        seen: set[str] = set()
        for edge in self.flow.edges:
            if edge.id is not None:
                if edge.id in seen:
                    path = f"/edges/{edge.index}/id"
                    self.issues.append(make_issue("duplicate_edge_id", path, id=edge.id))
                seen.add(edge.id)

    def _edges(self) -> None:
        for edge in self.flow.edges:
            ok = True
            for side, key, target in (("from", "from", edge.source), ("to", "to", edge.target)):
                if target not in self.nodes:
                    ok = False
                    self.issues.append(
                        make_issue(
                            "dangling_edge",
                            f"/edges/{edge.index}/{key}",
                            node_id=edge.source if side == "to" else None,
                            edge=edge.id or f"#{edge.index}",
                            side="from" if side == "from" else "to",
                            side_zh="起点" if side == "from" else "终点",
                            target=target,
                        )
                    )
            if ok:
                self.out[edge.source].append(edge)
                self.inc[edge.target].append(edge)

    def _start(self) -> str | None:
        starts = [n for n in self.nodes.values() if n.type == "start"]
        if not starts:
            self.issues.append(make_issue("no_start", "/nodes"))
            return None
        if len(starts) > 1:
            for node in starts[1:]:
                self._node_issue("multiple_starts", node, count=len(starts))
        for node in starts:
            if self.inc[node.id]:
                self._node_issue("start_has_incoming", node)
        return starts[0].id

    def _branches(self) -> None:
        for node in self.nodes.values():
            handler = self.handlers.get(node.type)
            if handler is None:
                continue
            edges = self.out[node.id]
            if node.type == "end":
                if edges:
                    self._node_issue("end_has_outgoing", node)
                continue
            if not edges:
                self._node_issue("dead_end", node, id=node.id)
                continue
            if self.valid_config is not None and node.index not in self.valid_config:
                continue
            spec = handler.branches(node.config)
            if node.type == "parallel":
                if len(edges) < 2:
                    self._node_issue("parallel_needs_branches", node, id=node.id)
                continue
            by_branch: dict[str | None, int] = defaultdict(int)
            for edge in edges:
                by_branch[edge.branch] += 1
            allowed = spec.allowed
            expected = ", ".join(_label(b) for b in spec.required) or "-"
            for edge in edges:
                if allowed is not None and edge.branch not in allowed:
                    self.issues.append(
                        make_issue(
                            "unknown_branch",
                            f"/edges/{edge.index}/branch",
                            node_id=node.id,
                            id=node.id,
                            branch=_label(edge.branch),
                            expected=expected,
                        )
                    )
            for branch, count in by_branch.items():
                if count > 1 and allowed is not None:
                    self._node_issue("duplicate_branch", node, id=node.id, branch=_label(branch))
            for branch in spec.required:
                if branch not in by_branch:
                    self._node_issue(
                        "branch_not_connected", node, id=node.id, branch=_label(branch)
                    )

    def _reachable(self, start: str) -> None:
        seen = {start}
        stack = [start]
        while stack:
            for edge in self.out[stack.pop()]:
                if edge.target not in seen:
                    seen.add(edge.target)
                    stack.append(edge.target)
        for node in self.nodes.values():
            if node.id not in seen:
                self._node_issue("unreachable_node", node, id=node.id)

    def _loops(self) -> None:
        waits = {
            n.id for n in self.nodes.values() if getattr(self.handlers.get(n.type), "waits", False)
        }
        succ = {
            nid: [e.target for e in self.out[nid] if e.target not in waits]
            for nid in self.nodes
            if nid not in waits
        }
        for component in _strongly_connected(succ):
            first = component[0]
            if len(component) > 1 or first in succ.get(first, ()):
                names = ", ".join(component)
                self._node_issue("cycle_without_wait", self.nodes[first], nodes=names)

    def _joins(self) -> None:
        matched: dict[str, list[str]] = defaultdict(list)
        regions: dict[str, set[str]] = {}
        for node in self.nodes.values():
            if not is_fork(node):
                continue
            joins, region = self._walk_fork(node.id)
            if len(joins) > 1:
                self._node_issue(
                    "split_multiple_joins", node, id=node.id, joins=", ".join(sorted(joins))
                )
            for join in joins:
                matched[join].append(node.id)
                regions[join] = region | {node.id}
        for node in self.nodes.values():
            if node.type != "join":
                continue
            forks = matched.get(node.id, [])
            if not forks:
                self._node_issue("join_without_split", node, id=node.id)
            elif len(forks) > 1:
                self._node_issue("join_multiple_splits", node, id=node.id, splits=", ".join(forks))
            else:
                outside = [e.source for e in self.inc[node.id] if e.source not in regions[node.id]]
                if outside:
                    self._node_issue(
                        "join_entered_from_outside",
                        node,
                        id=node.id,
                        split=forks[0],
                        nodes=", ".join(outside),
                    )

    # Follow every path out of a fork, tracking nesting, to find the join closing it.
    def _walk_fork(self, fork_id: str) -> tuple[set[str], set[str]]:
        joins: set[str] = set()
        region: set[str] = set()
        limit = len(self.nodes) + 1
        stack = [(e.target, 0) for e in self.out[fork_id]]
        seen: set[tuple[str, int]] = set()
        while stack:
            nid, depth = stack.pop()
            if (nid, depth) in seen or depth > limit or nid == fork_id:
                continue
            seen.add((nid, depth))
            node = self.nodes[nid]
            if node.type == "join":
                if depth == 0:
                    joins.add(nid)
                    continue
                depth -= 1
            elif is_fork(node):
                depth += 1
            region.add(nid)
            stack.extend((e.target, depth) for e in self.out[nid])
        return joins, region


# Tarjan's algorithm, iterative; components in discovery order.
def _strongly_connected(succ: Mapping[str, list[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in succ:
        if root in index:
            continue
        work = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in succ:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component, key=list(succ).index))
        # components come out in reverse topological order; order is irrelevant to callers
    return out
