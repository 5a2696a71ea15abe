"""HTML reports: one self-contained file (inline CSS and SVG, no external fetches).

A run's report (``check --html`` writes ``index.html``) holds the summary, then per
case its points' tables, its graph picture, the walk-through on demand (``<details>``),
the loss curves of a training case and any diagnosis. It reads on a phone (tables
scroll sideways, pictures shrink) and prints (walk-throughs open, colours kept light).

The pieces are public for other reports (per submission, per class): :func:`page`
wraps any body in the same styles; :func:`run_sections` gives a run's summary and
cases to put in a larger page; :func:`table`, :func:`badge` and :func:`diagnosis_html`
build the rest.

>>> html = page("t", table(["a", "b"], [["1", "<2>"]]))
>>> html.startswith("<!DOCTYPE html>") and "&lt;2&gt;" in html and "http" not in html
True
"""

from __future__ import annotations

import functools
import html as _html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checktable import NODE_HEADERS, node_row, point_title, rerun_command
from ..compare import FAILURES, WARNINGS
from ..walkthrough import Walkthrough, case_walk, number
from .curves import loss_curves_svg
from .graph import COLOURS, dot_available, inline_svg, render_svgs, svg_size, walk_dot
from .tables import summary_rows, totals_line
from .walkthrough import WRONG, parting, sections

if TYPE_CHECKING:
    from ..harness import CaseResult, Run
    from ..training import Training, Trajectory

__all__ = [
    "CSS", "MAX_GRAPH_NODES", "PAGE_WIDTH", "SHRINK", "badge", "case_html", "diagnosis_html", "escape", "graph_figure",
    "graph_figures", "page", "run_html", "run_sections", "table", "walkthrough_html", "write_html",
]

MAX_GRAPH_NODES = 80  #: larger graphs are left out of a run's report (``explain --graph`` draws them)
PAGE_WIDTH = 1168  #: px of a page's content at full width (75rem less padding): pictures are sized for it
SHRINK = 4 / 3  #: a picture up to this many page widths is shrunk to fit; a wider one scrolls in a frame

CSS = """
:root { --ok: #1a7f37; --warn: #8a5a00; --fail: #cf222e; --muted: #57606a; --line: #d0d7de; --pale: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; background: #fff; max-width: 75rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0; }
h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin-top: 2.2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
p, ul { margin: .4rem 0; }
.meta, figcaption, .note { color: var(--muted); font-size: .9rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; margin: .3rem 0; }
th, td { border: 1px solid var(--line); padding: .2rem .5rem; text-align: left; vertical-align: top;
  white-space: nowrap; }
th { background: var(--pale); }
td:last-child { white-space: normal; min-width: 14rem; }  /* prose (a finding, a verdict's why) wraps */
tr.fail td { background: #ffebe9; }
tr.warn td { background: #fff8c5; }
.badge { display: inline-block; border-radius: 1rem; padding: 0 .55rem; font-size: .78rem; font-weight: 600;
  color: #fff; vertical-align: middle; white-space: nowrap; }
.badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); } .badge.fail { background: var(--fail); }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
pre { background: var(--pale); padding: .5rem .75rem; overflow: auto; max-height: 32rem; border-radius: 6px; }
figure { margin: .8rem 0; }
figure svg { max-width: 100%; height: auto; }
figure.graph .frame { overflow: auto; max-height: 40rem; width: fit-content; max-width: 100%;
  border: 1px solid var(--line); border-radius: 6px; }
figure.graph .frame svg { max-width: none; }
details { margin: .6rem 0; border: 1px solid var(--line); border-radius: 6px; padding: .2rem .75rem; }
summary { cursor: pointer; font-weight: 600; padding: .2rem 0; }
.diagnosis { border-left: 4px solid var(--fail); background: #fff5f5; padding: .3rem .8rem; margin: .6rem 0; }
.parting { border-left: 4px solid var(--warn); background: #fffbea; padding: .3rem .8rem; }
.legend span { display: inline-block; border: 1px solid; padding: 0 .4rem; margin: 0 .3rem .2rem 0; }
nav.cases { columns: 16rem; font-size: .9rem; }
@media (max-width: 40rem) {
  body { font-size: 14px; padding: .5rem; }
  th, td { padding: .15rem .35rem; }
  h2 { font-size: 1.1rem; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .scroll, pre { overflow: visible; max-height: none; }
  th, td { white-space: normal; }
  a { color: inherit; text-decoration: none; }
  table, figure, pre, .diagnosis { break-inside: avoid; }
  figure.graph .frame { max-height: none; overflow: visible; }
  figure.graph .frame svg { max-width: 100%; }
  details { border: none; padding: 0; }
  .badge { color: #000; background: none !important; border: 1px solid #000; }
  nav.cases { display: none; }
}
"""

# Open every walk-through before printing; mark the page as rendered, with its laid-out width
# (the browser test reads both: nothing may stick out sideways).
_SCRIPT = """
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
});
document.documentElement.setAttribute("data-rendered", "yes");
document.documentElement.setAttribute("data-width", String(document.documentElement.scrollWidth));
"""


def escape(text: object) -> str:
    """HTML-escaped ``str(text)``."""
    return _html.escape(str(text), quote=True)


def _kind(verdict: str) -> str:
    return "fail" if verdict in FAILURES else "warn" if verdict in WARNINGS else "ok"


def badge(verdict: str) -> str:
    """A verdict as a coloured label.

    >>> badge("grad-mismatch")
    '<span class="badge fail">grad-mismatch</span>'
    """
    return f'<span class="badge {_kind(verdict)}">{escape(verdict)}</span>'


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, row_classes: Sequence[str] | None = None,
    raw: bool = False,
) -> str:
    """A table in a sideways-scrolling box; cells are escaped unless ``raw``."""
    return _table(tuple(headers), tuple(map(tuple, rows)), tuple(row_classes or ()), raw)


@functools.lru_cache(maxsize=1024)
def _table(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...], row_classes: tuple[str, ...],
           raw: bool) -> str:
    """A table made once per process: a class's reports repeat most of theirs (a case's nodes most engines get
    right...)."""
    cell = str if raw else escape
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A complete, self-contained HTML document around ``body``."""
    sub = f'<p class="meta">{escape(subtitle)}</p>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{sub}\n{body}\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


def diagnosis_html(diagnosis: Any) -> str:
    """A diagnosis (text, a list of findings, or anything printable) as a highlighted block."""
    if not diagnosis:
        return ""
    items = [diagnosis] if isinstance(diagnosis, str) or not isinstance(diagnosis, Iterable) else list(diagnosis)
    inner = (f"<p>{escape(items[0])}</p>" if len(items) == 1
             else "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    return f'<div class="diagnosis"><strong>Diagnosis</strong>{inner}</div>'


# --------------------------------------------------------------------------- one case


def graph_figure(w: Walkthrough, name: str, uid: str = "", *, selector: str = "") -> str:
    """A walk-through's graph as an inline SVG figure (DOT text when Graphviz is missing)."""
    return graph_figures([(w, name, uid, selector)])[0]


def _pictures(walks: Sequence[tuple[Walkthrough, str]]) -> list[tuple[str, str | None]]:
    """Each (walk, name)'s DOT text and picture (None without Graphviz): left to right, or
    stacked downwards where that is too wide and stacking helps. Both ways are drawn in one
    run of dot: a second run costs more than drawing every graph twice."""
    dots = [walk_dot(w, name) for w, name in walks]
    svgs = render_svgs(dots + [walk_dot(w, name, rankdir="TB") for w, name in walks])
    if svgs is None:
        return [(dot, None) for dot in dots]
    chosen = svgs[:len(dots)]
    for i, (wide, stacked) in enumerate(zip(chosen, svgs[len(dots):])):
        if svg_size(wide)[0] > SHRINK * PAGE_WIDTH and (svg_size(stacked)[0] <= SHRINK * PAGE_WIDTH
                                                       or svg_size(stacked)[0] < svg_size(wide)[0] / 2):
            chosen[i] = stacked
    return list(zip(dots, chosen))


def graph_figures(walks: Sequence[tuple[Walkthrough, str, str, str]]) -> list[str]:
    """:func:`graph_figure` of each (walk, name, uid, selector), every picture drawn in one run
    of Graphviz's ``dot`` (a run costs ~15 ms of CPU to start, a small graph ~1 ms to draw)."""
    drawn = [i for i, (w, *_) in enumerate(walks) if len(w.program.nodes) <= MAX_GRAPH_NODES]
    pictures = dict(zip(drawn, _pictures([walks[i][:2] for i in drawn])))
    return [_figure(w, pictures[i], uid) if i in pictures else
            (f'<p class="note">The graph has {len(w.program.nodes)} nodes, too many to draw here; '
             f"<code>python -m gradcheck_lab explain {escape(selector or name)} --graph graph.svg</code> "
             "draws it.</p>") for i, (w, name, uid, selector) in enumerate(walks)]


def _figure(w: Walkthrough, picture: tuple[str, str | None], uid: str) -> str:
    """A graph's figure around its picture (its DOT text when there is none), with the caption."""
    dot, svg = picture
    if w.checks is None:
        caption = "data and grad at every node (the truth)."
    else:
        known = all(n.value is not None and n.grad is not None for n in w.checks.nodes)
        mine = "the implementation's" if known else "the truth (the implementation failed)"
        caption = f"data and grad: {mine}; symbolic: the exact gradient."
        shown = {n.verdict for n in w.checks.nodes} & set(COLOURS)
        if shown:
            legend = "".join(f'<span style="background:{COLOURS[v][0]};border-color:{COLOURS[v][1]}">{escape(v)}'
                             "</span>" for v in COLOURS if v in shown)
            caption += f' Thick border: where they first part. <span class="legend">{legend}</span>'
    if svg is None:
        return (f'<figure class="graph"><p class="note">Graphviz\'s <code>dot</code> program is not installed, so '
                f"here is the graph as DOT text (<code>apt-get install graphviz</code> draws it).</p>"
                f"<pre>{escape(dot)}</pre><figcaption>{caption}</figcaption></figure>")
    width, height = svg_size(svg)
    if width <= SHRINK * PAGE_WIDTH and height <= 1.5 * PAGE_WIDTH:
        box = "fit"  # shrunk to the page's width, at worst to 3/4 of its size: labels still read
    else:
        box = "frame"
        caption += f" The picture is {width:.0f} x {height:.0f} px: scroll inside its frame."
    return (f'<figure class="graph"><div class="{box}">{inline_svg(svg, uid)}</div>'
            f"<figcaption>{caption}</figcaption></figure>")


def walkthrough_html(w: Walkthrough, summary: str = "", *, open_: bool = False) -> str:
    """A walk-through's tables; inside a ``<details>`` titled ``summary`` when one is given."""
    parts = []
    for sec in sections(w):
        kind = "parting" if sec.title == "Final gradients" and w.checks is not None else "note"
        notes = "".join(f'<p class="{kind}">{escape(n)}</p>' for n in sec.notes)
        wrong = ["fail" if any(WRONG in cell for cell in row) else "" for row in sec.rows]
        parts.append(f"<h4>{escape(sec.title)}</h4>{table(sec.headers, sec.rows, row_classes=wrong)}{notes}")
    if not summary:
        return "".join(parts)
    return f"<details{' open' if open_ else ''}><summary>{escape(summary)}</summary>{''.join(parts)}</details>"


def _training_html(training: Training, implementation: str, uid: str) -> str:
    exact, mine = training.exact, training.implementation
    svg = loss_curves_svg(
        [("exact gradients", exact.losses), ("implementation", mine.losses)], parted_at=training.parted_at,
        title=f"loss per step, {training.steps} steps at lr {training.lr:g}",
    )
    wanted = {0, 1, 2, training.steps} | ({training.parted_at - 1, training.parted_at, training.parted_at + 1}
                                          if training.parted_at is not None else set())
    names = list(exact.params[0]) if exact.params else []

    def at(traj: Trajectory, step: int, name: str | None) -> str:
        if step >= len(traj.losses):
            return "-"
        return number(traj.losses[step] if name is None else traj.params[step][name], 6)

    rows, classes = [], []
    for step in sorted(s for s in wanted if 0 <= s <= training.steps):
        pairs = [f"{at(mine, step, x)} / {at(exact, step, x)}" for x in [*names, None]]
        rows.append([str(step), *pairs])
        classes.append("fail" if training.parted_at is not None and step >= training.parted_at else "")
    steps_table = table(["step", *(f"{x}: yours / exact" for x in names), "loss: yours / exact"], rows,
                        row_classes=classes)
    return (f'<h3>Gradient descent {badge(training.verdict)}</h3><figure id="{uid}curves">{svg}'
            f"<figcaption>implementation: {escape(implementation)}; {escape(training.summary)}</figcaption></figure>"
            f"<details><summary>Trajectory, step by step</summary>{steps_table}</details>")


def case_html(
    result: CaseResult, run: Run | None = None, *, index: int = 0, graphs: bool = True, prefix: str = "",
    walked: Walkthrough | None = None, figure: str = "",
) -> str:
    """One case as a ``<section>``: header and source, its graph and where it parts, the
    walk-through, the loss curves of a training case, then each point's table. Its id is
    ``{prefix}case-{index}``: give each run on a page its own ``prefix``. ``walked`` and
    ``figure``: its walk-through and graph, when the caller has them (:func:`run_sections`)."""
    case = result.case
    uid = f"{prefix}c{index}-"
    out = [f'<section class="case" id="{prefix}case-{index}">',
           f"<h2>{escape(case.name)} {badge(result.verdict)}</h2>"]
    if case.about:
        out.append(f"<p>{escape(case.about)}</p>")
    where = f"{case.file}:{case.line}" if case.file else ""
    out.append(f'<p class="meta">{escape(where)}</p><pre>{escape(case.source.strip())}</pre>')
    if result.verdict in FAILURES:
        out.append(f"<p>Rerun just this case: <code>{escape(rerun_command(result, run))}</code></p>")
    drawn = result.training.summary if result.training else None  # the loss curves' caption says it
    out += [f'<p class="note">{escape(note)}</p>' for note in result.notes if note != drawn]
    out += [f"<p>{escape(e)}</p>" for e in result.expect_errors]
    out.append(diagnosis_html(getattr(result, "diagnosis", None)))
    walked = walked or case_walk(result)
    if walked is not None and walked.checks is not None:
        if graphs:
            out.append(figure or graph_figure(walked, case.name, uid, selector=case.selector))
        if result.verdict in FAILURES and walked.checks.verdict in FAILURES:
            out.append(f'<p class="parting">{escape(parting(walked))}</p>')
        out.append(walkthrough_html(walked, f"Walk-through: backprop step by step at {point_title(walked.checks)}"))
    if result.training is not None:
        implementation = "yours" if run is None else run.implementation
        out.append(_training_html(result.training, implementation, uid))
    for p in result.points:
        out.append(f"<h3>{escape(point_title(p))} {badge(p.verdict)}</h3>")
        if p.message:
            out.append(f"<p>{escape(p.message)}</p>")
        if p.traceback:
            out.append(f"<pre>{escape(p.traceback)}</pre>")
        out += [f'<p class="note">note: {escape(n)}</p>' for n in p.notes]
        out.append(diagnosis_html(getattr(p, "diagnosis", None)))
        if p.verdict in ("ok", "nondifferentiable", "grad-mismatch", "forward-mismatch"):
            out.append(table(NODE_HEADERS, [node_row(n) for n in p.nodes],
                             row_classes=[_kind(n.verdict) if n.verdict != "ok" else "" for n in p.nodes]))
    out.append("</section>")
    return "\n".join(x for x in out if x)


# --------------------------------------------------------------------------- a run


def run_sections(run: Run, *, graphs: bool = True, prefix: str = "") -> str:
    """A run's summary and every case, to sit in :func:`page` (alone, or beside other runs
    each with its own ``prefix`` for the element ids)."""
    from .text import run_header

    header = "".join(f"<p class=\"meta\">{escape(line)}</p>" for line in run_header(run).splitlines())
    rows = summary_rows(run.results)
    linked = [[f'<a href="#{prefix}case-{i}">{escape(r[0])}</a>', *map(escape, r[1:-1]), badge(r[-1])]
              for i, r in enumerate(rows)]
    summary = table(["case", "points", "nodes checked", "worst error", "verdict"], linked, raw=True,
                    row_classes=[_kind(r.verdict) if r.verdict != "ok" else "" for r in run.results])
    errors = [*run.errors, *(e for r in run.results for e in r.expect_errors)]
    error_list = ("<h2>Case-file errors</h2><ul>" + "".join(f"<li><code>{escape(e)}</code></li>" for e in errors)
                  + "</ul>") if errors else ""
    walks = [case_walk(r) for r in run.results]
    drawn = {i: (w, r.case) for i, (w, r) in enumerate(zip(walks, run.results))
             if graphs and w is not None and w.checks is not None}
    figures = dict(zip(drawn, graph_figures([(w, c.name, f"{prefix}c{i}-", c.selector)
                                             for i, (w, c) in drawn.items()])))
    cases = "\n".join(case_html(r, run, index=i, graphs=graphs, prefix=prefix, walked=walks[i],
                                 figure=figures.get(i, "")) for i, r in enumerate(run.results))
    return (f"{header}<p><strong>{escape(totals_line(run))}</strong></p><h2>Summary</h2>{summary}{error_list}"
            f"\n{cases}")


def run_html(run: Run, *, title: str = "gradcheck_lab report", graphs: bool = True) -> str:
    """A run as one self-contained HTML page."""
    note = "" if dot_available() or not graphs else (
        '<p class="note">Graphviz\'s <code>dot</code> program is not installed: graphs are shown as DOT text.</p>'
    )
    return page(title, note + run_sections(run, graphs=graphs))


def write_html(run: Run, directory: str | Path, name: str = "index.html") -> Path:
    """Write ``run``'s HTML report into ``directory``; return its path."""
    from ..atomic import write_text

    return write_text(Path(directory) / name, run_html(run))
