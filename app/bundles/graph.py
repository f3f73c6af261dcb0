"""A flow document drawn read-only as SVG on the server, from its node positions and edges.

Boxes sit where the editor placed them; each edge leaves the side of its node that faces
the target and carries its branch label. The picture has its natural size in pixels, so a
narrow screen scrolls it sideways instead of shrinking the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from flow_engine import NODE_HANDLERS

from ..i18n import code_label, localized

W, H = 176, 58
PAD = 24
# The editor packs nodes 24 px apart; spreading the same arrangement leaves room for the
# branch labels between them.
SPREAD_X, SPREAD_Y = 1.3, 1.15
FAMILY_COLORS = {
    "control": ("#334155", "#f1f5f9"),
    "decide": ("#b45309", "#fff7ed"),
    "act": ("#1d4ed8", "#eff6ff"),
    "human": ("#7e22ce", "#faf5ff"),
    "wait": ("#0f766e", "#f0fdfa"),
}


def branch_label(branch: str | None) -> str:
    """A branch key as readers see it: translated when it is one of the engine's own."""
    if not branch:
        return ""
    return code_label(branch, "branch")


def _clip(text: str, width: int) -> str:
    """``text`` cut to about ``width`` pixels at 13 px (CJK characters are twice as wide)."""
    used, out = 0.0, list[str]()
    for ch in text:
        used += 13 if ord(ch) > 0x2E80 else 7.2
        if used > width:
            return "".join(out[:-1]) + "…"
        out.append(ch)
    return text


def _ports(a: dict[str, float], b: dict[str, float]) -> tuple[tuple[float, ...], ...]:
    """Start and end points of an edge from box ``a`` to box ``b``, and their directions."""
    ax, ay, bx, by = a["x"], a["y"], b["x"], b["y"]
    if bx >= ax + W:
        return (ax + W, ay + H / 2, 1, 0), (bx, by + H / 2, -1, 0)
    if bx + W <= ax:
        return (ax, ay + H / 2, -1, 0), (bx + W, by + H / 2, 1, 0)
    if by >= ay:
        return (ax + W / 2, ay + H, 0, 1), (bx + W / 2, by, 0, -1)
    return (ax + W / 2, ay, 0, -1), (bx + W / 2, by + H, 0, 1)


def _edge(a: dict[str, float], b: dict[str, float], label: str, arrow: str) -> tuple[str, str]:
    """The edge's curve, and its branch label (drawn last, above the boxes)."""
    (x1, y1, dx1, dy1), (x2, y2, dx2, dy2) = _ports(a, b)
    bend = max(40.0, min(120.0, (abs(x2 - x1) + abs(y2 - y1)) / 3))
    c1 = (x1 + dx1 * bend, y1 + dy1 * bend)
    c2 = (x2 + dx2 * bend, y2 + dy2 * bend)
    path = (
        f'<path class="edge" d="M{x1:.0f},{y1:.0f} C{c1[0]:.0f},{c1[1]:.0f} '
        f'{c2[0]:.0f},{c2[1]:.0f} {x2:.0f},{y2:.0f}" marker-end="url(#{arrow})"/>'
    )
    if not label:
        return path, ""
    # The middle of the cubic curve (t = 0.5).
    mx = (x1 + 3 * c1[0] + 3 * c2[0] + x2) / 8
    my = (y1 + 3 * c1[1] + 3 * c2[1] + y2) / 8
    text = escape(_clip(label, 120))
    width = min(128, 12 + sum(13 if ord(ch) > 0x2E80 else 7 for ch in str(text)))
    return path, (
        f'<g class="branch"><rect x="{mx - width / 2:.0f}" y="{my - 10:.0f}" '
        f'width="{width}" height="20" rx="9"/>'
        f'<text x="{mx:.0f}" y="{my + 4:.0f}" text-anchor="middle">{text}</text></g>'
    )


def _node(node: Mapping[str, Any], at: dict[str, float], lang: str) -> str:
    handler = NODE_HANDLERS.get(str(node.get("type")))
    family = handler.family if handler is not None else "control"
    stroke, fill = FAMILY_COLORS.get(family, FAMILY_COLORS["control"])
    kind = localized(handler.title, lang) if handler is not None else str(node.get("type"))
    name = localized(node.get("name"), lang) or str(node.get("id"))
    x, y = at["x"], at["y"]
    node_id, node_type = escape(node.get("id")), escape(node.get("type"))
    return (
        f'<g class="node" data-node="{node_id}" data-type="{node_type}">'
        f"<title>{escape(name)} · {escape(kind)} ({node_id})</title>"
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{W}" height="{H}" rx="8" '
        f'fill="{fill}" stroke="{stroke}"/>'
        f'<rect x="{x:.0f}" y="{y:.0f}" width="5" height="{H}" rx="2" fill="{stroke}"/>'
        f'<text class="kind" x="{x + 14:.0f}" y="{y + 21:.0f}" fill="{stroke}">'
        f"{escape(_clip(kind, W - 24))}</text>"
        f'<text class="name" x="{x + 14:.0f}" y="{y + 42:.0f}">{escape(_clip(name, W - 24))}</text>'
        "</g>"
    )


def flow_svg(doc: Mapping[str, Any], lang: str = "zh") -> Markup:
    """The flow's graph as an inline ``<svg>``: node names in ``lang``, branch labels on edges."""
    nodes = [n for n in doc.get("nodes") or () if isinstance(n, Mapping)]
    spots: dict[str, dict[str, float]] = {}
    for i, node in enumerate(nodes):
        pos = node.get("position") or {}
        try:
            spots[str(node.get("id"))] = {
                "x": float(pos["x"]) * SPREAD_X,
                "y": float(pos["y"]) * SPREAD_Y,
            }
        except (KeyError, TypeError, ValueError):  # unplaced nodes go in a row below
            spots[str(node.get("id"))] = {"x": 40.0 + i * (W + 40), "y": -1.0}
    if spots:
        low = max(s["y"] for s in spots.values()) + H + 60
        for spot in spots.values():
            if spot["y"] == -1.0:
                spot["y"] = low
        min_x = min(s["x"] for s in spots.values()) - PAD
        min_y = min(s["y"] for s in spots.values()) - PAD
        width = max(s["x"] for s in spots.values()) + W + PAD - min_x
        height = max(s["y"] for s in spots.values()) + H + PAD - min_y
    else:
        min_x = min_y = 0.0
        width, height = 2.0 * W, 2.0 * H
    key = str(doc.get("key", ""))
    arrow = escape(f"arrow-{key}")  # one marker per picture: ids are unique on the page
    edges, labels = [], []
    for edge in doc.get("edges") or ():
        a, b = spots.get(str(edge.get("from"))), spots.get(str(edge.get("to")))
        if a is not None and b is not None:
            curve, label = _edge(a, b, branch_label(edge.get("branch")), arrow)
            edges.append(curve)
            labels.append(label)
    title = localized(doc.get("name"), lang) or key
    boxes = "".join(_node(n, spots[str(n.get("id"))], lang) for n in nodes)
    body = "".join(edges) + boxes + "".join(labels)
    # Every text from the document above went through escape(); numbers are formatted floats.
    return Markup(  # noqa: S704
        f'<svg class="flow-graph" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'data-flow="{escape(key)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="{min_x:.0f} {min_y:.0f} {width:.0f} {height:.0f}">'
        f"<title>{escape(title)}</title>"
        f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#64748b"/></marker></defs>'
        f"{body}</svg>"
    )
