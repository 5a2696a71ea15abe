"""The HTML report: one self-contained page, its structure, and nothing fetched from elsewhere;
the markdown report's walk-through for failing cases."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gradcheck_lab import InProcessExecutor, Run, Value, check_cases, collect_cases
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.cli import main
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.report import graph, markdown_text
from gradcheck_lab.report.html import diagnosis_html, run_html, table
from tests.slightly_wrong import POW_BIAS, SIN_SIGN, engine_file

ROOT = Path(__file__).resolve().parent.parent
SELECTORS = [ROOT / "cases/worked_examples.toml::log-sin-product", ROOT / "cases/worked_examples.toml::n-plus-n",
             ROOT / "cases/training.toml"]
VOID = {"meta", "br", "img", "hr", "input", "link", "path", "polygon", "polyline", "ellipse", "line", "rect",
        "circle", "text"}  # svg shapes may be self-closed


class _Structure(HTMLParser):
    """Counts elements, checks that every opened element is closed in order, and collects
    every attribute value that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.links: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "data") and value:
                self.links.append(value)
            if name == "id" and value:
                self.ids.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _parse(text: str) -> _Structure:
    parser = _Structure()
    parser.feed(text)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert parser.stack == [], parser.stack
    return parser


def _run(value_class: object, implementation: str) -> Run:
    cases, errors = collect_cases(SELECTORS)
    assert not errors
    return check_cases(cases, InProcessExecutor(value_class), implementation=implementation, samples=1,
                       answer_keys=AnswerKeys())


@pytest.fixture(scope="module")
def wrong_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    path = engine_file(tmp_path_factory.mktemp("engines"), SIN_SIGN, POW_BIAS)
    return _run(load_value_class(path), str(path))


def test_structure_of_a_failing_run(wrong_run: Run) -> None:
    text = run_html(wrong_run)
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    page = _parse(text)
    assert page.counts["section"] == 3  # one per case
    assert page.counts["details"] >= 3 + 1  # a walk-through per case, the training trajectory
    assert page.counts["style"] == 1 and page.counts["script"] == 1
    assert len(page.ids) == len(set(page.ids)), "element ids repeat across pictures"
    assert all(link.startswith("#") for link in page.links), page.links  # in-page anchors only
    summary = re.findall(r'<a href="#case-(\d)">([\w-]+)</a>', text)
    assert [name for _, name in summary] == ["log-sin-product", "n-plus-n", "descent-quadratic"]
    assert text.count('<span class="badge fail">grad-mismatch</span>') >= 2
    assert "Your engine parts from the truth first in the backward pass, at c" in text
    assert "parts at step 1" in text  # the loss curves part at once
    if graph.dot_available():
        assert page.counts["svg"] == 3 + 1  # a graph per case and the loss curves
        assert 'class="node"' in text and "penwidth" not in text  # graphviz drew them
    else:
        assert text.count("digraph ") == 3


def test_no_external_urls_anywhere(wrong_run: Run) -> None:
    text = run_html(wrong_run)
    assert re.search(r"(https?:|ftp:)?//[\w.-]+\.\w", text) is None
    assert "url(" not in text and "@import" not in text and "xmlns" not in text


def test_a_passing_run_and_the_graphs_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(Value, "gradcheck_lab.Value (reference engine)")
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    text = run_html(run)
    _parse(text)
    assert "Graphviz's <code>dot</code> program is not installed" in text
    assert text.count("<pre>digraph ") == 3
    assert 'class="badge fail"' not in text and text.count('<span class="badge ok">ok</span>') >= 3


def test_diagnoses_are_shown_where_present(wrong_run: Run) -> None:
    result = wrong_run.results[0]
    result.diagnosis = ["sin's backward has the wrong sign", "evidence: c.grad = +cos(8)"]  # type: ignore[attr-defined]
    try:
        text = run_html(wrong_run)
    finally:
        del result.diagnosis  # type: ignore[attr-defined]
    assert '<div class="diagnosis"><strong>Diagnosis</strong><ul><li>sin&#x27;s backward has the wrong sign' in text
    assert diagnosis_html(None) == ""
    assert diagnosis_html("x") == '<div class="diagnosis"><strong>Diagnosis</strong><p>x</p></div>'


def test_check_html_flag_writes_index_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["cases/worked_examples.toml::n-plus-n", "--report-dir", str(tmp_path), "--html", "-q",
                 "--no-cache"]) == 0
    index = tmp_path / "index.html"
    assert index.is_file() and "<h2>n-plus-n" in index.read_text()
    assert main(["cases/worked_examples.toml::n-plus-n", "--report-dir", str(tmp_path / "b"), "-q"]) == 0
    assert not (tmp_path / "b" / "index.html").exists()


def test_markdown_report_walks_through_failing_cases_only(wrong_run: Run) -> None:
    text = markdown_text(wrong_run)
    assert text.count("### Walk-through at point") == 2  # log-sin-product and descent-quadratic
    seed = text[text.index("## log-sin-product"):text.index("## n-plus-n")]
    assert "#### Backward pass" in seed and "x3.grad: 3.0 -> 2.7090 (accumulates)" in seed
    assert "0.1455 ✗ first to part" in seed
    training = text[text.index("## descent-quadratic"):]
    assert "- gradient descent, 100 steps at lr 0.1" in training
    assert "parts from the exact descent at step 1" in training


def test_several_runs_share_a_page_with_distinct_ids(wrong_run: Run) -> None:
    from gradcheck_lab.report.html import page, run_sections

    text = page("class", run_sections(wrong_run, prefix="ann-") + run_sections(wrong_run, prefix="bob-"))
    ids = _parse(text).ids
    assert len(ids) == len(set(ids)) and "ann-case-0" in ids and "bob-case-0" in ids
    assert '<a href="#bob-case-2">descent-quadratic</a>' in text


def test_a_table_made_again_reads_the_same_and_each_option_counts() -> None:
    rows = [["x", "<1>"], ["y", "2"]]
    escaped = table(["node", "grad"], rows)
    assert "<td>&lt;1&gt;</td>" in escaped and "class=" not in escaped.split("<tbody>")[1]
    assert table(["node", "grad"], [row[:] for row in rows]) == escaped  # made once: the same text again
    assert "<td><1></td>" in table(["node", "grad"], rows, raw=True)
    assert '<tr class="fail"><td>x</td>' in table(["node", "grad"], rows, row_classes=["fail", ""])
    assert "<td>&lt;1&gt;</td>" in table(["node", "grad"], rows)  # the options went into no other table
