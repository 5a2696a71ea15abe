"""A real notebook, run by a real Jupyter kernel (nbclient): seed 004's material, whose
Value first has ``=`` where ``+=`` belongs and is then corrected. ``check_engine`` names
grad-overwrite after the first and passes after the second; both show as HTML.
The HTML fragment also renders in headless Chromium without a console message."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from gradcheck_lab.report.browser import find_chromium, render
from gradcheck_lab.report.graph import dot_available
from tests.conftest import SEED_ENGINES, seed004_before

BEFORE_TEXT = """#### Before Correction

If a node is used multiple times, the code where accumulation of gradients is not taken into
consideration, i.e. only `=` is used like `self.grad =`, won't work correctly."""
AFTER_TEXT = """#### After Correction

`=` should be replaced by `+=` to accumulate gradients."""
DEMO = """n = Value(4.0, label='n')
m = n + n; m.label = 'm'
m.backward()
print(n.grad)"""


def seed004_notebook(folder: Path) -> nbformat.NotebookNode:
    """Seed 004's cells in its order: the class with `=`, its demo, a check; the corrected class, its demo, a check."""
    before = seed004_before(folder).read_text()
    after = (SEED_ENGINES / "seed004.py").read_text()
    cells = nbformat.v4
    return cells.new_notebook(cells=[
        cells.new_markdown_cell(BEFORE_TEXT),
        cells.new_code_cell(before),
        cells.new_code_cell(DEMO),
        cells.new_code_cell("from gradcheck_lab import check_engine, explain\nfirst = check_engine(Value)\nfirst"),
        cells.new_code_cell("explain(Value, 'L = n + n', {'n': 4.0})"),
        cells.new_markdown_cell(AFTER_TEXT),
        cells.new_code_cell(after),
        cells.new_code_cell(DEMO),
        cells.new_code_cell("second = check_engine(Value)\nsecond"),
        cells.new_code_cell("print(first.ok, first.codes[0], second.ok, second.verdict)"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def _outputs(cell: nbformat.NotebookNode, kind: str) -> str:
    return "".join(o.get("data", {}).get(kind, "") if "data" in o else o.get("text", "") for o in cell.outputs
                   if kind in o.get("data", {}) or (kind == "stream" and o.output_type == "stream"))


@pytest.mark.slow
def test_seed004_notebook_runs_and_check_engine_names_then_passes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("GRADCHECK_CACHE", str(tmp_path / "cache"))  # the kernel inherits it
    nb = seed004_notebook(tmp_path)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert _outputs(code[1], "stream").strip().endswith("1.0")  # the seed's own demo: n.grad is 1.0, not 2.0
    first_html, first_text = _outputs(code[2], "text/html"), _outputs(code[2], "text/plain")
    assert "<code>grad-overwrite</code>" in first_html and "not ok" in first_html
    assert first_text.startswith("Value: wrong")
    assert "n.grad should be 2, yours is 1" in _outputs(code[3], "text/plain")
    assert _outputs(code[5], "stream").strip().endswith("2.0")
    second_html = _outputs(code[6], "text/html")
    assert "grad-overwrite" not in second_html and "partial" in second_html
    assert _outputs(code[7], "stream").strip() == "False grad-overwrite True partial"
    nbformat.write(nb, tmp_path / "seed004_checked.ipynb")  # (kept for a look: pytest's tmp_path)


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium (Debian: apt-get install chromium)")
def test_the_fragment_renders_in_headless_chromium(tmp_path: Path) -> None:
    from gradcheck_lab import check_engine, collect_cases
    from gradcheck_lab.implementations import load_value_class
    from gradcheck_lab.inprocess import Limits
    from tests.conftest import ROOT

    cases, _ = collect_cases([ROOT / "cases/fan_out.toml"])
    found = check_engine(load_value_class(seed004_before(tmp_path)), cases, cache_dir=tmp_path / "cache",
                         limits=Limits(timeout=300.0, request_timeout=60.0, probe_timeout=120.0))
    # as Jupyter embeds it: inside a page with styles of its own
    page = tmp_path / "cell.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><style>body { font-family: serif; }</style>'
                    f'</head><body><div class="output">{found._repr_html_()}</div></body></html>')
    shot = render(page, tmp_path / "cell.png", width=1000, height=2200)
    assert shot.console == [], shot.console
    assert shot.screenshot.stat().st_size > 20_000
    assert shot.dom.count("<svg") == (1 if dot_available() else 0)  # the showcase's graph
    assert "Walk-through: backprop step by step" in shot.dom and "grad-overwrite" in shot.dom
