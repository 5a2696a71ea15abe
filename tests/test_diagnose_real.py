"""Diagnosis of engines written the way students write them: several independent quirks at
once (numbers not made Values, an op that raises, a missing op, a recursive sort), each
named from its own probes. The engines are mutants of the micrograd-style student engine
(tests/engines/student_value.py), each change a pattern seen in real code, in our words."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import pytest

from gradcheck_lab.diagnose import diagnose, observe_probes
from gradcheck_lab.diagnose.findings import find_bugs
from gradcheck_lab.implementations import load_value_class

from .conftest import STUDENT, unsupported

#: Ops of the table the student engine was written without (any added since): each named unsupported.
MISSING = unsupported(load_value_class(STUDENT))
#: What the student engine has before any change: a recursive sort, tanh via exp(2x), sigmoid via exp(-x).
BASE = {"recursion-limit", "numerics:tanh", "numerics:sigmoid"} | MISSING

RECURSIVE_SORT = """            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)"""

#: Codes a mutant hides: backward() that does nothing never reaches its recursive sort.
HIDDEN = {"backward shadowed in __init__": {"recursion-limit"}}

MUTANTS: dict[str, tuple[dict[str, str], set[str]]] = {
    "no visited set": ({RECURSIVE_SORT: """            for child in v._prev:
                build(child)
            topo.append(v)"""}, {"topo-revisit"}),
    "forward order": ({"for node in reversed(topo):": "for node in topo:"}, {"topo-order"}),
    "pre-order, not reversed": ({RECURSIVE_SORT: """            if v not in visited:
                visited.add(v)
                topo.append(v)
                for child in v._prev:
                    build(child)""", "for node in reversed(topo):": "for node in topo:"}, {"topo-order"}),
    "no seed": ({"        self.grad = 1.0\n        for node": "        for node"}, {"no-seed-grad"}),
    "numbers not wrapped, sigmoid s * (1 + s)": (
        {"        other = other if isinstance(other, Value) else Value(other)\n        out = Value(self.data + ":
         "        out = Value(self.data + ",
         "        other = other if isinstance(other, Value) else Value(other)\n        out = Value(self.data * ":
         "        out = Value(self.data * ",
         "self.grad += s * (1 - s) * out.grad": "self.grad += s * (1 + s) * out.grad"},
        {"no-coerce:right", "wrong-local:sigmoid"}),
    "bare log, no cos": ({"Value(math.log(self.data)": "Value(log(self.data)",
                          "    def cos(self):": "    def _cos(self):"}, {"raises:log", "unsupported:cos"}),
    "tanh forgets to return": ({"        out._backward = _backward\n        return out\n\n    def relu":
                                "        out._backward = _backward\n\n    def relu"}, {"not-a-value:tanh"}),
    "2 ** x computes x ** 2": ({"out = Value(base**self.data, (self,), f\"{base}**\")":
                                "return self**base\n        out = None"}, {"forward:rpow"}),
    "2 - x computes x - 2": ({"return other + (-self)": "return self - other"}, {"forward:rsub"}),
    "division, the divisor's sign flipped": (
        {"    def __truediv__(self, other):\n        return self * other**-1": """    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data / other.data, (self, other), "/")

        def _backward():
            self.grad += out.grad / other.data
            other.grad += self.data / other.data**2 * out.grad

        out._backward = _backward
        return out"""}, {"wrong-local:div"}),
    "grad starts as None": ({"self.grad = 0.0": "self.grad = None"}, {"grad-none"}),
    "backward shadowed in __init__": ({"self._backward = lambda: None": "self._backward = lambda: None\n"
                                       "        self.backward = lambda: None"}, {"backward-noop"}),
    "negation is a fresh Value": ({"return self * -1": "return Value(-self.data)"}, {"no-backward:neg"}),
    "= in exp only": ({"self.grad += out.data * out.grad": "self.grad = out.data * out.grad"},
                      {"grad-overwrite:exp"}),
    "forward order and no seed": ({"for node in reversed(topo):": "for node in topo:",
                                   "        self.grad = 1.0\n        for node": "        for node"},
                                  {"topo-order", "no-seed-grad"}),
}


def _codes(value_class: Any) -> set[str]:
    with contextlib.redirect_stdout(io.StringIO()):
        return set(diagnose(observe_probes(value_class)).codes)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_real_pattern_is_named_beside_the_engines_other_quirks(
        mutant: str, make_engine: Callable[[dict[str, str]], Any]) -> None:
    changes, codes = MUTANTS[mutant]
    found = _codes(make_engine(changes))
    # the bug and the recursive sort, always; the overflow warnings where the probes reach them
    expected = codes | {"recursion-limit"} - HIDDEN.get(mutant, set()) | MISSING
    assert found - {"numerics:tanh", "numerics:sigmoid"} == expected
    assert found <= codes | BASE


def test_the_student_engine_has_only_its_warnings(student_class: Any) -> None:
    assert _codes(student_class) == BASE


def test_a_recursive_engine_with_several_bugs_names_each_with_its_own_evidence(
        make_engine: Callable[[dict[str, str]], Any]) -> None:
    engine = make_engine({"Value(math.log(self.data)": "Value(log(self.data)",
                          "self.grad += s * (1 - s) * out.grad": "self.grad += s * (1 + s) * out.grad",
                          "for node in reversed(topo):": "for node in topo:"})
    with contextlib.redirect_stdout(io.StringIO()):
        found = diagnose(observe_probes(engine))
    assert {"raises:log", "wrong-local:sigmoid", "topo-order", "recursion-limit"} <= set(found.codes)
    log = found.evidence["raises:log"][0]
    assert log.probe == "form:log(x)" and "NameError: name 'log' is not defined" in log.got and "line" in log.got
    sigmoid = {e.probe: e for e in found.evidence["wrong-local:sigmoid"]}
    assert sigmoid["form:sigmoid(x)"].got.startswith("x.grad = ")
    assert [e.probe for e in found.evidence["recursion-limit"]] == ["deep-chain"]


def test_a_missing_op_is_never_the_counterexample(make_engine: Callable[[dict[str, str]], Any]) -> None:
    engine = make_engine({"    def cos(self):": "    def _cos(self):", "    def gelu(self):": "    def _gelu(self):",
                          "self.grad += out.data * out.grad": "self.grad += self.data * out.grad"})
    found = find_bugs(engine)
    assert "wrong-local:exp" in found.codes and "unsupported:cos" in found.codes
    assert found.counterexample is not None
    assert "exp" in found.counterexample.source and "cos" not in found.counterexample.source


def test_no_counterexample_when_only_an_op_is_missing(make_engine: Callable[[dict[str, str]], Any]) -> None:
    found = find_bugs(make_engine({"    def cos(self):": "    def _cos(self):"}))
    assert set(found.codes) in ({"unsupported:cos", "recursion-limit"} | MISSING, {"unsupported:cos"} | BASE)
    assert found.counterexample is None
