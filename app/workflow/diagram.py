"""Server-rendered SVG of a flow: a layered layout, top to bottom, no JavaScript.

Layers are the longest distance from the start along forward edges (edges back to an earlier
layer, such as loops, are drawn curved on the side). Node colours: done green, current blue,
rejected red, pending grey.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from app.workflow.definition import NODE_TYPES, Graph

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 132, 40, 24, 36, 16
COLOURS = {
    "done": ("#e4f4ea", "#1e7b45"), "current": ("#dce8fb", "#1f4e96"),
    "rejected": ("#fde8eb", "#c8102e"), "pending": ("#f4f6fa", "#8a93a6"),
}
STATE_TITLES = {"done": "已完成", "current": "当前", "rejected": "未通过", "pending": "未到达"}


def _layers(graph: Graph) -> dict[str, int]:
    keys = list(graph.nodes)
    if not keys:
        return {}
    start = next((k for k, n in graph.nodes.items() if n["type"] == "start"), keys[0])
    order: list[str] = []
    seen: set[str] = set()
    back: set[tuple[str, str]] = set()
    on_path: set[str] = set()

    def visit(key: str) -> None:  # depth-first, marking edges that close a cycle
        seen.add(key)
        on_path.add(key)
        for nxt in graph.successors(key):
            if nxt in on_path:
                back.add((key, nxt))
            elif nxt not in seen and nxt in graph.nodes:
                visit(nxt)
        on_path.discard(key)
        order.append(key)

    visit(start)
    for key in keys:
        if key not in seen:
            visit(key)
    layer = dict.fromkeys(keys, 0)
    for key in reversed(order):  # topological order of the forward edges
        for nxt in graph.successors(key):
            if (key, nxt) not in back and nxt in layer:
                layer[nxt] = max(layer[nxt], layer[key] + 1)
    return layer


def render(graph: Graph, states: dict[str, str] | None = None, title: str = "") -> str:
    states = states or {}
    layer = _layers(graph)
    rows: dict[int, list[str]] = defaultdict(list)
    for key, depth in layer.items():
        rows[depth].append(key)
    widest = max((len(r) for r in rows.values()), default=1)
    width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X + 40
    height = MARGIN * 2 + len(rows) * (BOX_H + GAP_Y)
    pos: dict[str, tuple[float, float]] = {}
    for depth, keys in rows.items():
        span = len(keys) * BOX_W + (len(keys) - 1) * GAP_X
        left = (width - 40 - span) / 2
        for i, key in enumerate(keys):
            pos[key] = (left + i * (BOX_W + GAP_X), MARGIN + depth * (BOX_H + GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-label="{escape(title or graph.data.get("name", "流程图"))}" '
        'font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#5d6679"/></marker></defs>',
    ]
    for edge in graph.edges:
        if edge["from"] in pos and edge["to"] in pos:
            parts.append(_edge(pos[edge["from"]], pos[edge["to"]], edge,
                               layer[edge["to"]] <= layer[edge["from"]]))
    for key, node in graph.nodes.items():
        parts.append(_node(pos[key], node, states.get(key, "pending")))
    parts.append("</svg>")
    return "".join(parts)


def _edge(a: tuple[float, float], b: tuple[float, float], edge: dict[str, Any],
          backwards: bool) -> str:
    x1, y1 = a[0] + BOX_W / 2, a[1] + BOX_H
    x2, y2 = b[0] + BOX_W / 2, b[1]
    if backwards:  # a loop back up: around the right side
        x1, y1, x2, y2 = a[0] + BOX_W, a[1] + BOX_H / 2, b[0] + BOX_W, b[1] + BOX_H / 2
        bend = max(x1, x2) + 30
        path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    else:
        path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
    out = [f'<path d="{path}" fill="none" stroke="#5d6679" stroke-width="1.2" '
           'marker-end="url(#arrow)"/>']
    label = edge["condition"] or ("默认" if edge["default"] else "")
    if label:
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        short = label if len(label) <= 18 else label[:17] + "…"
        out.append(f'<text x="{mx + 4:.0f}" y="{my:.0f}" fill="#b26a00" font-size="10">'
                   f'<title>{escape(label)}</title>{escape(short)}</text>')
    return "".join(out)


def _node(p: tuple[float, float], node: dict[str, Any], state: str) -> str:
    fill, stroke = COLOURS.get(state, COLOURS["pending"])
    x, y = p
    kind = node["type"]
    name = node["name"] if len(node["name"]) <= 9 else node["name"][:8] + "…"
    tip = f"{node['name']}（{NODE_TYPES.get(kind, kind)}，{STATE_TITLES.get(state, '')}）"
    if kind in {"start", "end"}:
        shape = (f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="20" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>')
    elif kind in {"gateway", "split", "join"}:
        cx, cy = x + BOX_W / 2, y + BOX_H / 2
        shape = (f'<polygon points="{cx - BOX_W / 2:.0f},{cy:.0f} {cx:.0f},{y:.0f} '
                 f'{cx + BOX_W / 2:.0f},{cy:.0f} {cx:.0f},{y + BOX_H:.0f}" fill="{fill}" '
                 f'stroke="{stroke}" stroke-width="2"/>')
    else:
        dash = ' stroke-dasharray="5 3"' if kind in {"system", "subflow", "circulate"} else ""
        shape = (f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="4" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/>')
    return (f'<g class="node {state}" data-node="{escape(node["key"])}"><title>{escape(tip)}'
            f'</title>{shape}<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 4:.0f}" '
            f'text-anchor="middle" fill="#1d2433">{escape(name)}</text></g>')
