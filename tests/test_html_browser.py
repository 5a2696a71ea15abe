"""The HTML report in a real browser: headless Chromium renders it without a console
message, runs its script, draws its pictures, and saves a screenshot."""

from __future__ import annotations

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
