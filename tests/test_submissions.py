"""Loading submissions: notebooks and files cut down to the Value class and what it needs,
as a run from top to bottom would define it; nothing here runs student code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from gradcheck_lab.diagnose.probes import probe_cases
from gradcheck_lab.submissions import (
    SubmissionRef,
    content_digest,
    discover,
    extract_source,
    load_submission,
)
from gradcheck_lab.submissions.child import load_chunks

VALUE_V1 = "class Value:\n    version = 1\n    def __init__(self, data):\n        self.data = data\n"
VALUE_V2 = ("class Value:\n    version = 2\n    def __init__(self, data):\n        self.data = data\n"
            "    def exp(self):\n        return Value(exp(self.data))\n")


def notebook(tmp_path: Path, *cells: str, name: str = "nb.ipynb") -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# Homework"), *(new_code_cell(c) for c in cells),
                             new_raw_cell("raw text")])
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def load(path: Path):  # type: ignore[no-untyped-def]
    return load_submission(SubmissionRef(path.stem, path))


def run(sub) -> type:  # type: ignore[no-untyped-def]
    """Run the chunks in this process (trusted test code only) and return the class."""
    value, failure, _ = load_chunks([c.to_json() for c in sub.chunks],
                                    f"__test_{id(sub)}__")
    assert failure is None, failure
    return value  # type: ignore[no-any-return]


def test_magics_shell_escapes_and_display_code_are_dropped(tmp_path: Path) -> None:
    path = notebook(
        tmp_path,
        "%matplotlib inline\n!pip install graphviz\nimport math\nfrom graphviz import Digraph\n"
        "import matplotlib.pyplot as plt",
        "files = !ls\nmath.exp?\n" + VALUE_V2.replace("exp(self.data)", "math.exp(self.data)"),
        "%%bash\necho hi",
        "%%time\nL = Value(2.0)\nprint(L)",
        "def draw_dot(root):\n    return Digraph()\n\ndraw_dot(Value(1.0))\nplt.plot([1, 2])",
    )
    sub = load(path)
    assert not sub.problem
    assert [c.what for c in sub.chunks] == ["import math", "class Value"]
    assert sub.cells == (2, 3)  # the markdown cell is cell 1
    assert any("blanked 5 IPython lines" in n for n in sub.notes)
    assert any("cell 4: skipped (%%bash" in n for n in sub.notes)
    value = run(sub)
    assert value.version == 2 and abs(value(1.0).exp().data - 2.718281828459045) < 1e-15


def test_the_last_definition_wins_and_a_later_import_counts(tmp_path: Path) -> None:
    path = notebook(tmp_path, VALUE_V1, "a = Value(1)", VALUE_V2, "b = Value(2)\nb.exp()", "from math import exp")
    sub = load(path)
    assert [c.what for c in sub.chunks] == ["class Value", "from math import exp"]
    assert sub.cells == (4, 6)
    assert any("defined 2 times (cell 2, cell 4); grading the last" in n for n in sub.notes)
    assert run(sub).version == 2


def test_a_missing_optional_import_does_not_sink_the_submission(tmp_path: Path) -> None:
    source = ("import math\nimport no_such_plotting_lib as plots\n\n" + VALUE_V2.replace("exp(self.data)",
              "math.exp(self.data)") + "    def show(self):\n        return plots.draw(self)\n")
    path = tmp_path / "s.py"
    path.write_text(source)
    sub = load(path)
    assert "import no_such_plotting_lib as plots" in [c.what for c in sub.chunks]  # Value.show needs it
    value, failure, notes = load_chunks([c.to_json() for c in sub.chunks], "__t1__")
    assert failure is None and value(0.0).exp().data == 1.0
    assert any("ModuleNotFoundError" in n and "loading went on" in n for n in notes)


def test_helpers_constants_patches_and_settings_are_kept(tmp_path: Path) -> None:
    source = '''import sys
import random
sys.setrecursionlimit(5000)
SCALE = 2.0
def helper(x):
    return x * SCALE
UNUSED = [1, 2, 3]
class Value:
    def __init__(self, data):
        self.data = helper(data)
def radd(self, other):
    return Value(self.data + other)
Value.__radd__ = radd
setattr(Value, "tag", "patched")
for i in range(10 ** 9):
    pass
if __name__ == "__main__":
    Value(1)
'''
    sub = extract_source("s", source)
    assert [c.what for c in sub.chunks] == [
        "import sys", "sys.setrecursionlimit(5000)", "SCALE = 2.0", "def helper", "class Value", "def radd",
        "Value.__radd__ = radd", "setattr(Value, 'tag', 'patched')",
    ]
    limit = sys.getrecursionlimit()
    try:
        value = run(sub)
    finally:
        sys.setrecursionlimit(limit)  # the source raises it: later tests need the default (deep-chain probes)
    assert value(1.0).data == 2.0 and (3 + value(1.0)).data == 10.0 and value.tag == "patched"


def test_line_numbers_are_the_files(tmp_path: Path) -> None:
    sub = extract_source("s", "import math\n\n\n" + VALUE_V1)
    value_chunk = sub.chunks[-1]
    assert value_chunk.essential and value_chunk.source.startswith("class Value") and value_chunk.line == 4


@pytest.mark.parametrize("files, problem", [
    ({"a.ipynb": "{not json"}, "not a readable notebook"),
    ({"a.py": "def f(:\n"}, "does not parse: line 1"),
    ({"a.py": "import math\nx = 1\n"}, "defines no class Value"),
    ({"a.txt": "hello"}, "neither a .py file nor a .ipynb"),
])
def test_unusable_submissions_get_a_clear_problem(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    sub = load(tmp_path / next(iter(files)))
    assert problem in sub.problem and not sub.chunks


def test_a_value_cell_that_does_not_parse_is_named(tmp_path: Path) -> None:
    sub = load(notebook(tmp_path, "import math", "class Value:\n    def f(self:\n        pass"))
    assert "[cell 3], line 2" in sub.problem and "defines Value" in sub.problem


def test_folders_pick_the_file_that_defines_value_and_carry_their_modules(tmp_path: Path) -> None:
    folder = tmp_path / "dana"
    (folder / "pkg").mkdir(parents=True)
    (folder / "engine.py").write_text("from pkg.util import twice\n" + VALUE_V1)
    (folder / "pkg" / "util.py").write_text("def twice(x):\n    return 2 * x\n")
    (folder / "test_engine.py").write_text("class Value:\n    pass\n")
    (folder / "notes.md").write_text("# notes")
    sub = load(folder)
    assert sub.main == folder / "engine.py"
    assert dict(sub.files).keys() == {"engine.py", "pkg/util.py", "test_engine.py"}
    assert any("2 files define Value; grading engine.py" in n for n in sub.notes)


def test_discover_makes_unique_ids_and_skips_clutter(tmp_path: Path) -> None:
    for name in ("ann.py", "ann.ipynb", "bo b.py", ".hidden.py", "readme.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "carl").mkdir()
    refs = discover([tmp_path])
    assert [(r.id, r.path.name) for r in refs] == [
        ("ann.ipynb", "ann.ipynb"), ("ann.py", "ann.py"), ("bo_b", "bo b.py"), ("carl", "carl")]
    assert [r.id for r in discover([tmp_path / "carl"], single=True)] == ["carl"]


def test_content_digest_follows_content(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "a.py").write_text("1")
    first = content_digest(folder)
    assert content_digest(folder) == first
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "a.pyc").write_text("cache")
    assert content_digest(folder) == first
    (folder / "b.py").write_text("2")
    assert content_digest(folder) != first


def test_probes_cover_every_op_and_reflected_form() -> None:
    forms = [c.name for c in probe_cases()]
    assert {"x + y", "x + 2", "2 + x", "2 - x", "2 / x", "x ** 3", "-x", "exp(x)", "max(x, y)"} <= set(forms)
    from gradcheck_lab.ops import OPS

    assert {c.tags[-1] for c in probe_cases()} == {f"op:{name}" for name in OPS}


def test_the_capability_probes_are_the_op_forms_of_the_one_probe_set() -> None:
    """One set of probes, one batch: each capability case holds its probe's own program
    (so the probes' batch answers its judge), and nothing is probed twice."""
    from gradcheck_lab.diagnose import PROBES

    forms = {p.form: p for p in PROBES if p.form}
    assert [c.name for c in probe_cases()] == list(forms)
    assert all(c.program is forms[c.name].program and c.points == (forms[c.name].point,) for c in probe_cases())
    assert len({(p.source, tuple(p.point.items()), p.backward_calls) for p in PROBES}) == len(PROBES)


# ---------------------------------------------------------------------------- properties

_NOISE = st.sampled_from([
    "%matplotlib inline", "!pip install graphviz", "import matplotlib.pyplot as plt", "from graphviz import Digraph",
    "print('hi')", "x = [i * i for i in range(3)]", "display(x)", "%%capture\nprint(1)", "%%bash\nls",
    "def draw_dot(root):\n    return None", "for i in range(3):\n    print(i)", "x?", "plt.plot([1, 2])",
])


@settings(max_examples=60, deadline=None)
@given(before=st.lists(_NOISE, max_size=4), between=st.lists(_NOISE, max_size=4), after=st.lists(_NOISE, max_size=4),
       versions=st.lists(st.integers(1, 9), min_size=1, max_size=3))
def test_noise_never_changes_what_is_graded(
    tmp_path_factory: pytest.TempPathFactory, before: list[str], between: list[str], after: list[str],
    versions: list[int],
) -> None:
    """Whatever display code, magics and drafts surround it, the last Value is what runs."""
    definitions = [VALUE_V2.replace("version = 2", f"version = {v}") for v in versions]
    cells = [*before, "import math", *definitions[:-1], *between, definitions[-1], *after, "from math import exp"]
    path = notebook(tmp_path_factory.mktemp("nb"), *cells)
    sub = load(path)
    assert not sub.problem
    assert [c.what for c in sub.chunks] == ["class Value", "from math import exp"]
    assert sub.chunks[0].essential and not sub.chunks[1].essential
    assert run(sub).version == versions[-1]
    assert json.dumps(sub.cells) == json.dumps(sorted(sub.cells))


def test_future_imports_apply_to_every_chunk(tmp_path: Path) -> None:
    """Type hints naming Value inside its own class body need ``from __future__ import annotations``."""
    source = ("from __future__ import annotations\nimport math\n\n\nclass Value:\n"
              "    def __init__(self, data: float) -> None:\n        self.data = data\n"
              "    def exp(self) -> Value:\n        return Value(math.exp(self.data))\n")
    sub = extract_source("s", source)
    assert sub.chunks[-1].futures == ("annotations",)
    assert run(sub)(0.0).exp().data == 1.0
