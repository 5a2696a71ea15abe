"""drive.py's error texts: the traceback an observation reports is the standard library's, the
same at every point that fails alike, and follows a source file that changed in between."""

from __future__ import annotations

import linecache
import traceback

from gradcheck_lab import drive

LOWERED = {"inputs": ["x"], "output": 2, "titles": ["x", "e", "L"],
           "calls": [["", "exp", "exp", [["ref", 0]], "e"], ["mul", "__mul__", "mul", [["ref", 1], 2], "L"]]}


def _engine(filename: str, body: str) -> type:
    """A Value class whose ``exp`` runs ``body`` (its source registered under ``filename``)."""
    source = ("class Value:\n"
              "    def __init__(self, data):\n"
              "        self.data, self.grad = data, 0.0\n"
              "    def exp(self):\n"
              f"        {body}\n")
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, object] = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["Value"]  # type: ignore[return-value]


def _standard_tail(value_class: type) -> str:
    """The last 6 lines the traceback module itself prints for the same failure."""
    try:
        drive._apply(value_class, "", "exp", "exp", [value_class(0.5)])
    except Exception as exc:
        return "\n".join("".join(traceback.format_exception(exc)).rstrip().splitlines()[-6:])
    raise AssertionError("exp did not raise")


def test_each_failing_point_reports_the_standard_librarys_traceback() -> None:
    value_class = _engine("<engine-a>", "return Value(undefined_name(self.data))")
    expected = _standard_tail(value_class)
    reports = [drive.observe(value_class, LOWERED, {"x": x})["error"] for x in (0.5, 1.5, -2.0)]
    assert all(r["kind"] == "exception" and r["node"] == 1 for r in reports)
    assert [r["traceback"] for r in reports] == [expected] * 3
    assert "undefined_name(self.data)" in expected and "^^^" in expected


def test_a_source_line_changed_between_two_failures_is_shown_as_it_now_is() -> None:
    first = drive.observe(_engine("<engine-b>", "return Value(undefined_name(self.data))"), LOWERED, {"x": 1.0})
    second = drive.observe(_engine("<engine-b>", "return Value(missing_a_name(self.data))"), LOWERED, {"x": 1.0})
    assert "undefined_name(self.data)" in first["error"]["traceback"]
    assert "missing_a_name(self.data)" in second["error"]["traceback"]
    assert "undefined_name" not in second["error"]["traceback"]
