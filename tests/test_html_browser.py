"""The HTML report in a real browser: headless Chromium renders it without a console
message, runs its script, draws its pictures, and saves a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradcheck_lab import InProcessExecutor, check_cases, collect_cases
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.report import graph
from gradcheck_lab.report.browser import find_chromium, render
from gradcheck_lab.report.html import write_html
from tests.slightly_wrong import POW_BIAS, SIN_SIGN, engine_file

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium to render the report in (Debian: apt-get install chromium)"
)


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    impl = engine_file(tmp_path, SIN_SIGN, POW_BIAS)
    cases, errors = collect_cases([ROOT / "cases/worked_examples.toml::log-sin-product", ROOT / "cases/training.toml"])
    assert not errors
    run = check_cases(cases, InProcessExecutor(load_value_class(impl)), implementation="slightly_wrong.py",
                      samples=0, answer_keys=AnswerKeys())
    page = write_html(run, tmp_path)
    shot = render(page, tmp_path / "report.png", width=1000, height=1400)
    assert shot.console == [], shot.console  # no script error, no resource that failed to load
    assert shot.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.screenshot.stat().st_size > 20_000  # a page, not a blank
    assert 'data-rendered="yes"' in shot.dom  # the page's script ran to its end
    pictures = 2 + 1 if graph.dot_available() else 1  # two graphs and the loss curves
    assert shot.dom.count("<svg") == pictures
    assert "Walk-through: backprop step by step" in shot.dom


def _page_width(dom: str) -> int:
    found = re.search(r'data-width="(\d+)"', dom)
    assert found, "the page's script did not record its width"
    return int(found.group(1))


def test_pages_fit_1400_px_long_graphs_in_frames_and_named_tooltips(tmp_path: Path) -> None:
    impl = engine_file(tmp_path, SIN_SIGN, POW_BIAS)
    cases, errors = collect_cases([ROOT / "cases/deep.toml::deep-pure-tanh-30",
                                   ROOT / "cases/deep.toml::deep-affine-100",
                                   ROOT / "cases/worked_examples.toml::log-sin-product"])
    assert not errors
    run = check_cases(cases, InProcessExecutor(load_value_class(impl)), implementation="slightly_wrong.py",
                      samples=0, answer_keys=AnswerKeys())
    page = write_html(run, tmp_path)
    shot = render(page, tmp_path / "report-1400.png", width=1400, height=1800)
    assert shot.console == [], shot.console
    assert _page_width(shot.dom) <= 1400  # nothing sticks out of the page: tables and graphs keep to their box
    if graph.dot_available():
        assert 'class="frame"' in shot.dom  # the 30-step chain: stacked, in a frame that scrolls
        titles = re.findall(r"<title>([^<]*)</title>", shot.dom)
        assert "t1 = tanh(x)" in titles and "x1" in titles
        assert not [t for t in titles if re.fullmatch(r"n\d+(op|c\d+)?(&#45;&gt;|->)?.*", t)]  # no internal ids


def test_a_submission_report_links_back_to_the_class_summary(tmp_path: Path) -> None:
    from gradcheck_lab.cli import main

    student = tmp_path / "student.py"
    student.write_text((ROOT / "tests" / "engines" / "student_value.py").read_text())
    reports = tmp_path / "reports"
    assert main(["grade", str(student), "--cases", str(ROOT / "cases/worked_examples.toml::log-sin-product"),
                 "--report-dir", str(reports), "--cache-dir", str(tmp_path / "cache"), "--html", "-q"]) == 0
    report = reports / "submissions" / "student" / "report.html"
    shot = render(report, tmp_path / "submission-1400.png", width=1400, height=1400)
    assert shot.console == [], shot.console
    assert _page_width(shot.dom) <= 1400
    assert 'href="../../class_summary.html"' in shot.dom
    assert (report.parent / "../../class_summary.html").resolve().is_file()  # the link leads somewhere
