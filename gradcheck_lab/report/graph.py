"""Graph pictures: a case's computation graph in Graphviz DOT, in the seeds' ``draw_dot`` style.

Every node is a record ``{ label | data | grad }`` and every op a small ellipse between
its operands and its result, as the course notebooks draw them. When an
implementation is judged, each record also holds the symbolic gradient, and nodes
whose value or gradient is wrong are coloured (:data:`COLOURS`). The DOT text needs
nothing installed; :func:`render_svg` turns it into SVG with the ``graphviz`` package
when the Graphviz ``dot`` program is on the PATH (``apt-get install graphviz``).

>>> from gradcheck_lab.source import parse_source
>>> p = parse_source("n = a * b\\nL = tanh(n)")
>>> print(graph_dot(p, [2.0, 0.5, 1.0, 0.7616], [0.21, 0.84, 0.42, 1.0]))  # doctest: +NORMALIZE_WHITESPACE
digraph "graph" {
  graph [rankdir=LR, bgcolor="transparent", fontname="Helvetica"];
  node [fontname="Helvetica", fontsize=11];
  n0 [shape=record, label="{ a | data 2.0000 | grad 0.2100 }", tooltip="a"];
  n1 [shape=record, label="{ b | data 0.5000 | grad 0.8400 }", tooltip="b"];
  n2 [shape=record, label="{ n | data 1.0000 | grad 0.4200 }", tooltip="n"];
  n2op [label="*", tooltip="n = a * b"];
  n2op -> n2 [tooltip="n = a * b"];
  n0 -> n2op [tooltip="a -> n = a * b"];
  n1 -> n2op [tooltip="b -> n = a * b"];
  n3 [shape=record, label="{ L | data 0.7616 | grad 1.0000 }", tooltip="L"];
  n3op [label="tanh", tooltip="L = tanh(n)"];
  n3op -> n3 [tooltip="L = tanh(n)"];
  n2 -> n3op [tooltip="n -> L = tanh(n)"];
}
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..ops import OPS
from ..program import Program, Ref
from ..walkthrough import Walkthrough, parting_node
from .walkthrough import op_label

__all__ = ["COLOURS", "dot_available", "graph_dot", "inline_svg", "render_svg", "render_svgs", "svg_size", "walk_dot",
           "write_graph"]

#: Verdict -> (fill, border) of a node's record.
COLOURS = {
    "forward-mismatch": ("#f9d0cc", "#b3261e"),
    "grad-mismatch": ("#fde3bf", "#a35400"),
    "nondifferentiable": ("#eeeeee", "#777777"),
}


def _field(text: str) -> str:
    """Text safe inside one field of a quoted DOT record label (``"`` included)."""
    text = " ".join(text.split()).replace("\\", "\\\\")
    return re.sub(r'([{}|<>"])', r"\\\1", text)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(x: float | None) -> str:
    """``%.4f`` as ``draw_dot`` prints, with ``%.4g`` for what it would show as 0.0000."""
    if x is None:
        return "-"
    return f"{x:.4f}" if x == 0 or 1e-4 <= abs(x) < 1e9 else f"{x:.4g}"


def graph_dot(
    program: Program,
    values: Sequence[float | None],
    grads: Sequence[float | None],
    *,
    symbolic_values: Sequence[float | None] | None = None,
    symbolic_grads: Sequence[float | None] | None = None,
    verdicts: Sequence[str] | None = None,
    highlight: int | None = None,
    name: str = "graph",
    rankdir: str = "LR",
) -> str:
    """The graph as DOT text. ``values``/``grads``: what each record shows (an
    implementation's, or the truth); ``symbolic_*``: the truth beside them; ``verdicts``
    colour the records; ``highlight`` draws one (the first wrong node) with a thick border;
    ``rankdir`` ``TB`` stacks a long chain downwards. Every node and edge has a tooltip
    naming it (:func:`render_svg` makes it the SVG's ``<title>``, which browsers show).
    """
    lines = [
        f"digraph {_quote(name)} {{",
        f'  graph [rankdir={rankdir}, bgcolor="transparent", fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11];',
    ]
    for k, node in enumerate(program.nodes):
        verdict = verdicts[k] if verdicts is not None else "ok"
        data = f"data {_num(values[k])}"
        if verdict == "forward-mismatch" and symbolic_values is not None:
            data += f" (true {_num(symbolic_values[k])})"
        fields = [node.title, data, f"grad {_num(grads[k])}"]
        if symbolic_grads is not None:
            fields.append(f"symbolic {_num(symbolic_grads[k])}")
        attrs = ["shape=record", 'label="{ ' + " | ".join(_field(f) for f in fields) + ' }"']  # _field quotes
        if verdict in COLOURS:
            fill, border = COLOURS[verdict]
            attrs += ['style="filled' + (',dashed"' if verdict == "nondifferentiable" else '"'),
                      f'fillcolor="{fill}"', f'color="{border}"']
        if k == highlight:
            attrs.append("penwidth=3")
        attrs.append(f"tooltip={_quote(node.title)}")
        lines.append(f"  n{k} [{', '.join(attrs)}];")
        if node.op == "input":
            continue
        made = f"{node.name} = {node.text}" if node.name and node.text else node.title
        lines += [f"  n{k}op [label={_quote(op_label(node))}, tooltip={_quote(made)}];",
                  f"  n{k}op -> n{k} [tooltip={_quote(made)}];"]
        for i, a in enumerate(node.args):
            if isinstance(a, Ref):
                into = f"{program.nodes[a.index].title} -> {made}"
                lines.append(f"  n{a.index} -> n{k}op [tooltip={_quote(into)}];")
            elif not (OPS[node.op].constant_exponent and i == 1):
                number = f"the number {a}"
                lines += [f"  n{k}c{i} [shape=plaintext, label={_quote(str(a))}, tooltip={_quote(number)}];",
                          f"  n{k}c{i} -> n{k}op [tooltip={_quote(number + ' -> ' + made)}];"]
    return "\n".join([*lines, "}"]) + "\n"


def walk_dot(w: Walkthrough, name: str = "graph", rankdir: str = "LR") -> str:
    """The graph of a walk-through: the implementation's numbers beside the truth when it
    has them (and where they part, highlighted), else the walk's own."""
    if w.checks is None:
        return graph_dot(w.program, w.values, w.grads, name=name, rankdir=rankdir)
    nodes = w.checks.nodes
    known = all(n.value is not None and n.grad is not None for n in nodes)
    return graph_dot(
        w.program, [n.value for n in nodes] if known else w.values, [n.grad for n in nodes] if known else w.grads,
        symbolic_values=[n.symbolic_value if n.symbolic_value is not None else w.values[n.node] for n in nodes],
        symbolic_grads=[n.symbolic_grad if n.symbolic_grad is not None else w.grads[n.node] for n in nodes],
        verdicts=[n.verdict for n in nodes], highlight=parting_node(w), name=name, rankdir=rankdir,
    )


def dot_available() -> bool:
    """Whether the Graphviz ``dot`` program is installed (the ``graphviz`` package needs it)."""
    return shutil.which("dot") is not None


def render_svg(dot: str) -> str | None:
    """The DOT text as an SVG document, or None when Graphviz's ``dot`` is not installed."""
    svgs = render_svgs([dot])
    return None if svgs is None else svgs[0]


#: ``dot`` names the group of every graph after the first of a run ``page0,1_graph0``; alone it is ``graph0``.
_PAGED = re.compile(r'(<g id=")page\d+,\d+_')


def render_svgs(dots: Sequence[str]) -> list[str] | None:
    """Several DOT texts as SVG documents, each as :func:`render_svg` makes it, in one run of
    ``dot`` (its start costs ~15 ms of CPU, a small graph 1-2); None when it is not installed."""
    if not dots:
        return []
    if not dot_available():
        return None
    import graphviz  # type: ignore[import-untyped]  # deferred: only pictures need it

    out: str = graphviz.Source("".join(dots)).pipe(format="svg", encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"<\?xml ", out)]  # every document's prolog; a label's < is &lt;
    if len(starts) != len(dots):
        raise RuntimeError(f"dot drew {len(starts)} pictures of {len(dots)} graphs")
    return [_tooltips_as_titles(_PAGED.sub(r"\1", out[a:b], count=1)) for a, b in zip(starts, [*starts[1:], None])]


_TITLED = re.compile(r'<title>[^<]*</title>(\s*<g id="[^"]*"><a xlink:title="([^"]*)">)')


def _tooltips_as_titles(svg: str) -> str:
    """Each node's and edge's ``<title>`` (what a browser shows on hover) made its tooltip,
    the node's name, instead of Graphviz's internal id (``n0``, ``n1op``).

    >>> _tooltips_as_titles('<title>n0</title>\\n<g id="a_node1"><a xlink:title="x1">')
    '<title>x1</title>\\n<g id="a_node1"><a xlink:title="x1">'
    """
    return _TITLED.sub(lambda m: f"<title>{m.group(2)}</title>{m.group(1)}", svg)


def svg_size(svg: str) -> tuple[float, float]:
    """The width and height an SVG document asks for, in its own units (0 if it does not say).

    >>> svg_size('<svg width="80pt" height="20.5pt" viewBox="0 0 80 20">')
    (80.0, 20.5)
    """
    head = svg[svg.find("<svg"):]
    head = head[:head.find(">")]
    found = [re.search(rf'\b{a}="([\d.]+)', head) for a in ("width", "height")]
    return (float(found[0].group(1)) if found[0] else 0.0, float(found[1].group(1)) if found[1] else 0.0)


def inline_svg(svg: str, prefix: str = "") -> str:
    """An SVG document ready to sit inside HTML: no XML prolog, doctype, comments or
    namespace URLs, sized in pixels, and element ids prefixed so that several pictures share a page.

    >>> svg = '<?xml version="1.0"?><!-- x --><svg width="80pt" xmlns="http://www.w3.org/2000/svg"><g id="a"/></svg>'
    >>> inline_svg(svg, "p-")
    '<svg width="80px"><g id="p-a"/></svg>'
    """
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    end = svg.index(">")  # points as pixels: 3/4 of the size, where 11pt labels read well
    svg = re.sub(r'\b(width|height)="([\d.]+)pt"', r'\1="\2px"', svg[:end]) + svg[end:]
    return svg.replace(' id="', f' id="{prefix}').strip()


def write_graph(dot: str, path: str | Path) -> tuple[Path, str]:
    """Write the picture: ``path`` with suffix ``.svg`` when Graphviz is installed, else
    the DOT text with suffix ``.dot``. Returns the path written and a note for the user."""
    from ..atomic import write_text

    path = Path(path)
    if path.suffix != ".dot":
        svg = render_svg(dot)
        if svg is not None:
            return write_text(path.with_suffix(".svg"), svg), ""
    written = write_text(path.with_suffix(".dot"), dot)
    note = "" if path.suffix == ".dot" else (
        "Graphviz's dot program is not installed, so the graph is written as DOT text; "
        f"install it (apt-get install graphviz, or brew install graphviz) or run: dot -Tsvg {written} -o "
        f"{written.with_suffix('.svg')}"
    )
    return written, note
