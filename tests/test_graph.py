"""Graph pictures: DOT in the seeds' draw_dot style, colours for wrong nodes, SVG or DOT on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_lab import InProcessExecutor, check_case, parse_source
from gradcheck_lab.cases import Case
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.program import Node, Program, Ref
from gradcheck_lab.report import graph
from gradcheck_lab.report.graph import dot_available, graph_dot, inline_svg, render_svg, walk_dot, write_graph
from gradcheck_lab.walkthrough import walk
from tests.slightly_wrong import SIN_SIGN, engine_file

SMALL = """digraph "small" {
  graph [rankdir=LR, bgcolor="transparent", fontname="Helvetica"];
  node [fontname="Helvetica", fontsize=11];
  n0 [shape=record, label="{ w | data 3.0000 | grad -4.0000 }", tooltip="w"];
  n1 [shape=record, label="{ a | data -2.0000 | grad -4.0000 }", tooltip="a"];
  n1op [label="-", tooltip="a = w - 5"];
  n1op -> n1 [tooltip="a = w - 5"];
  n0 -> n1op [tooltip="w -> a = w - 5"];
  n1c1 [shape=plaintext, label="5", tooltip="the number 5"];
  n1c1 -> n1op [tooltip="the number 5 -> a = w - 5"];
  n2 [shape=record, label="{ b | data 4.0000 | grad 1.0000 }", tooltip="b"];
  n2op [label="**2", tooltip="b = a**2"];
  n2op -> n2 [tooltip="b = a**2"];
  n1 -> n2op [tooltip="a -> b = a**2"];
}
"""


def test_dot_for_a_small_graph() -> None:
    p = parse_source("a = w - 5\nb = a**2")
    w = walk(p, {"w": 3.0})
    assert graph_dot(p, w.values, w.grads, name="small") == SMALL


def test_records_escape_what_dot_reads_as_structure() -> None:
    p = Program((Node("input", (), 'x{1}|<y> "z"'), Node("relu", (Ref(0),), "r", "relu(x)")), 1)
    dot = graph_dot(p, [1.0, 1.0], [1.0, 1.0])
    assert r'label="{ x\{1\}\|\<y\> \"z\" | data 1.0000 | grad 1.0000 }"' in dot
    assert "data 1.0000" in graph_dot(p, [1.0, 1.0], [1e-7, 1.0])  # tiny numbers keep their digits:
    assert "grad 1e-07" in graph_dot(p, [1.0, 1.0], [1e-7, 1.0])


def test_wrong_nodes_are_coloured_and_the_first_is_highlighted(tmp_path: Path) -> None:
    case = Case("seed", parse_source("c = x1 * x3\nd = sin(c)\nL = d + x1"), ({"x1": 2.0, "x3": 4.0},))
    wrong = load_value_class(engine_file(tmp_path, SIN_SIGN))
    checks = check_case(case, InProcessExecutor(wrong), samples=0).points[0]
    w = walk(case.program, case.points[0], checks=checks)
    dot = walk_dot(w, "seed")
    lines = {line.split(" [")[0].strip(): line for line in dot.splitlines() if "shape=record" in line}
    assert "symbolic -0.1455" in lines["n2"] and "grad 0.1455" in lines["n2"]  # c: yours beside the truth
    assert 'fillcolor="#fde3bf"' in lines["n2"] and "penwidth=3" in lines["n2"]  # first to part
    assert 'fillcolor="#fde3bf"' in lines["n0"] and "penwidth" not in lines["n0"]  # x1: wrong downstream
    assert "fillcolor" not in lines["n3"]  # d is right


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot program is not installed (apt-get install graphviz)")
def test_svg_when_graphviz_is_installed(tmp_path: Path) -> None:
    dot = graph_dot(parse_source("y = x * x"), [3.0, 9.0], [6.0, 1.0])
    svg = render_svg(dot)
    assert svg is not None and "<svg" in svg and "data 9.0000" in svg
    inline = inline_svg(svg, "p-")
    assert inline.startswith("<svg") and "http" not in inline and 'id="p-graph0"' in inline
    path, note = write_graph(dot, tmp_path / "g.svg")
    assert path == tmp_path / "g.svg" and note == "" and path.read_text().lstrip().startswith("<?xml")


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot program is not installed (apt-get install graphviz)")
def test_several_pictures_in_one_run_of_dot_are_each_as_drawn_alone() -> None:
    dots = [graph_dot(parse_source(src), values, grads, name=name) for src, values, grads, name in [
        ("y = x * x", [3.0, 9.0], [6.0, 1.0], "square"), ("n = a * b\nL = tanh(n)", [2.0, 0.5, 1.0, 0.76],
                                                          [0.21, 0.84, 0.42, 1.0], "neuron"),
        ("y = x + 1", [1.0, 2.0], [1.0, 1.0], "step")]]
    alone = [render_svg(dot) for dot in dots]
    together = graph.render_svgs(dots)
    assert together == alone and together is not None and all('<g id="graph0"' in svg for svg in together)
    assert graph.render_svgs([]) == []


def test_dot_text_and_a_note_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    dot = graph_dot(parse_source("y = x * x"), [3.0, 9.0], [6.0, 1.0])
    assert render_svg(dot) is None and graph.render_svgs([dot, dot]) is None
    path, note = write_graph(dot, tmp_path / "g.svg")
    assert path == tmp_path / "g.dot" and path.read_text() == dot
    assert "not installed" in note and "apt-get install graphviz" in note
