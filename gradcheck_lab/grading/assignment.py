"""What is graded and how: the assignment (which operator forms are required and which
optional, what each case is worth, what each diagnosis code costs, whether the output's
grad may be seeded by hand), the rubric, and the configuration every worker receives.

An assignment is a TOML file: ``assignment.toml`` in the cases' folder, or any file given
with ``--assignment``; without one, the shipped default (``default_assignment.toml``: the
micrograd lecture's ops) is graded. Every report names the assignment it graded.

>>> a = default_assignment()
>>> a.name, "2 - x" in a.required, "sin(x)" in a.optional, a.seed_by_hand
('micrograd lecture', True, True, False)
>>> [a.cost(code).cost.value for code in ("grad-overwrite:exp", "recursion-limit", "numerics:tanh")]
['wrong', 'warning', 'warning']
>>> from gradcheck_lab.source import parse_source
>>> sorted(forms_of(parse_source("L = 2 - x * y + exp(x)")))
['2 - x', 'exp(x)', 'x * y', 'x + y']
"""

from __future__ import annotations

import enum
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cases import Case
from ..diagnose.catalog import CATALOG, Effect
from ..diagnose.probes import PROBES, Probe
from ..errors import GradcheckError
from ..ops import OPS
from ..program import Program, Ref, python_operator
from ..submissions import Limits
from ..version import __version__
from .model import GRADER_VERSION

if TYPE_CHECKING:
    from ..plan import Session
    from .nn import NNAssignment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

__all__ = [
    "ASSIGNMENT_FILE", "Assignment", "AssignmentError", "CodeCost", "Cost", "GradeConfig", "Rubric",
    "default_assignment", "find_assignment", "forms_of", "load_assignment", "op_forms", "parse_assignment",
]

ASSIGNMENT_FILE = "assignment.toml"  #: looked for in the cases' folder
_KEYS = {"name", "about", "seed_by_hand", "ops", "points", "costs", "nn"}


class AssignmentError(GradcheckError, ValueError):
    """An assignment file that cannot be graded with: says which file, which key, and why."""


class Cost(enum.Enum):
    """What a proven bug does to a grade."""

    WRONG = "wrong"  #: the verdict is wrong; it costs points
    WARNING = "warning"  #: reported; costs nothing


@dataclass(frozen=True)
class CodeCost:
    """A diagnosis code's cost: ``points`` None costs as much as one failed case of its op."""

    cost: Cost
    points: float | None = None


def op_forms() -> dict[str, str]:
    """Every operator form the probes know (``x + 2``, ``2 ** x``...), in table order -> its op."""
    return {p.form: p.op for p in PROBES if p.form}


def _node_form(program: Program, k: int) -> str:
    """How node ``k`` is written, as the capability table writes forms (``2 - x``)."""
    node = program.nodes[k]
    op = OPS[node.op]
    s = op.symbol
    if op.arity == 2 and python_operator(op) is not None:
        if op.constant_exponent:
            return f"x {s} 3"
        left, right = (isinstance(a, Ref) for a in node.args)
        return f"x {s} y" if left and right else f"x {s} 2" if left else f"2 {s} x"
    if op.arity == 1 and not op.is_function:
        return f"{s}x"
    return f"{s}({', '.join('xy'[: op.arity])})"


def forms_of(program: Program) -> set[str]:
    """The operator forms a program is written with."""
    return {_node_form(program, k) for k, node in enumerate(program.nodes) if node.op != "input"}


def _expand(entries: Any, where: str, known: Mapping[str, str], taken: Iterable[str]) -> tuple[str, ...]:
    """An ``[ops]`` list as forms: op names, reflected names (``rsub``), forms, ``*``."""
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise AssignmentError(f"{where} must be a list of op names or forms, e.g. [\"add\", \"2 - x\"]")
    by_op: dict[str, list[str]] = {}
    for form, op in known.items():
        by_op.setdefault(op, []).append(form)
        if form.startswith("2 ") and OPS[op].arity == 2 and not form.endswith(" 3"):
            by_op.setdefault("r" + OPS[op].method.strip("_"), []).append(form)  # radd, rsub, rtruediv...
    forms: list[str] = []
    for entry in entries:
        if entry == "*":
            forms += [f for f in known if f not in taken]
        elif entry in by_op:
            forms += by_op[entry]
        elif entry in known:
            forms.append(entry)
        else:
            raise AssignmentError(f"{where}: {entry!r} is neither an op nor a form; ops: {', '.join(by_op)}; "
                                  f"forms: {', '.join(known)}")
    return tuple(dict.fromkeys(forms))


def _points(table: Any, where: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(table, dict) or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                                              for v in table.values()):
        raise AssignmentError(f"{where} must map names to points (numbers of 0 or more)")
    return tuple((str(k), float(v)) for k, v in table.items())


def _cost(value: Any, where: str) -> CodeCost:
    if isinstance(value, str) and value in {c.value for c in Cost}:
        return CodeCost(Cost(value))
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return CodeCost(Cost.WRONG, float(value))
    raise AssignmentError(f"{where} must be \"wrong\", \"warning\" or a number of points, not {value!r}")


@dataclass(frozen=True)
class Assignment:
    """Which operator forms are required and which optional, what cases are worth, what
    each diagnosis code costs, and whether the output's grad may be seeded by hand."""

    name: str
    source: str  #: the file it was read from ("" for the shipped default)
    required: tuple[str, ...]
    optional: tuple[str, ...]
    about: str = ""
    seed_by_hand: bool = False  #: backward() may leave the output's grad for the caller to set
    case_points: tuple[tuple[str, float], ...] = ()
    tag_points: tuple[tuple[str, float], ...] = ()
    costs: tuple[tuple[str, CodeCost], ...] = ()
    nn: NNAssignment | None = None  #: the nn.py checks and their points (None: the engine alone is assigned)

    @property
    def title(self) -> str:
        """How reports name it: ``micrograd lecture (the default)``."""
        return f"{self.name} ({self.source or 'the default'})"

    @property
    def forms(self) -> tuple[str, ...]:
        return self.required + self.optional

    @cached_property
    def ops(self) -> frozenset[str]:
        """The op names of its forms (``sub`` for ``2 - x``)."""
        known = op_forms()
        return frozenset(known[f] for f in self.forms)

    def points(self, case: Case) -> float:
        """A case's points: by its name, else by its first tag listed, else its weight."""
        by_name, by_tag = dict(self.case_points), dict(self.tag_points)
        if case.name in by_name:
            return by_name[case.name]
        return next((by_tag[t] for t in case.tags if t in by_tag), case.weight)

    def cost(self, code: str) -> CodeCost:
        """What a proven diagnosis code costs under this assignment."""
        costs = dict(self.costs)
        if code == "no-seed-grad" and self.seed_by_hand:
            return CodeCost(Cost.WARNING)
        family = code.split(":")[0] + ":*"
        if code in costs or family in costs:
            return costs.get(code) or costs[family]
        effect = CATALOG[code].effect if code in CATALOG else Effect.WRONG
        return CodeCost(Cost.WARNING if effect is Effect.WARNING else Cost.WRONG)

    def probes(self) -> tuple[Probe, ...]:
        """The probes over this assignment's ops only: its forms, and each diagnostic probe
        whose every op it names."""
        forms = set(self.forms)
        return tuple(p for p in PROBES if (p.form in forms if p.form else
                                           {n.op for n in p.program.nodes if n.op != "input"} <= self.ops))

    def unknown_forms(self, cases: Sequence[Case]) -> list[str]:
        """Cases written with forms this assignment neither requires nor allows, one line each."""
        forms = set(self.forms)
        return [f"{c.selector}: uses {', '.join(sorted(extra))}, which the assignment {self.title} neither "
                "requires nor allows (add them to [ops] optional, or leave the case out)"
                for c in cases if (extra := forms_of(c.program) - forms)]

    @cached_property
    def digest(self) -> str:
        blob = json.dumps([self.name, self.required, self.optional, self.seed_by_hand, self.case_points,
                           self.tag_points, [(k, v.cost.value, v.points) for k, v in self.costs],
                           *([asdict(self.nn)] if self.nn else [])], default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_assignment(text: str, source: str = "") -> Assignment:
    """An assignment from TOML text; :class:`AssignmentError` names what is wrong.

    >>> parse_assignment('name = "x"\\n[ops]\\nrequired = ["add", "rsub"]\\noptional = []').required
    ('x + y', 'x + 2', '2 + x', '2 - x')
    >>> parse_assignment('[ops]\\nrequired = ["plus"]')
    Traceback (most recent call last):
    ...
    gradcheck_lab.grading.assignment.AssignmentError: assignment: [ops] required: 'plus' is neither an op ...
    """
    where = source or "assignment"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{where}: not valid TOML: {exc}") from exc
    unknown = set(data) - _KEYS
    if unknown:
        raise AssignmentError(f"{where}: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}")
    ops, points, costs = data.get("ops", {}), data.get("points", {}), data.get("costs", {})
    if not all(isinstance(t, dict) for t in (ops, points, costs)):
        raise AssignmentError(f"{where}: [ops], [points] and [costs] must be tables")
    known = op_forms()
    required = _expand(ops.get("required", []), f"{where}: [ops] required", known, ())
    optional = tuple(f for f in _expand(ops.get("optional", []), f"{where}: [ops] optional", known, required)
                     if f not in required)
    if not required:
        raise AssignmentError(f"{where}: [ops] required names no form; a Value class needs at least one op")
    for code in costs:
        family = code.removesuffix(":*")
        if code not in CATALOG and not (code.endswith(":*") and any(c.startswith(family + ":") for c in CATALOG)):
            raise AssignmentError(f"{where}: [costs] {code!r} is not a diagnosis code (see `gradcheck_lab "
                                  "diagnose --list`) nor a family such as \"numerics:*\"")
    seed = data.get("seed_by_hand", False)
    if not isinstance(seed, bool) or not isinstance(data.get("name", ""), str):
        raise AssignmentError(f"{where}: seed_by_hand must be true or false, name a string")
    nn = None
    if "nn" in data:
        from .nn import NNAssignment  # deferred: the nn checks and their reports load only for an [nn] assignment

        if not isinstance(data["nn"], dict):
            raise AssignmentError(f"{where}: [nn] must be a table (points, steps, lr, samples, seed, hidden, "
                                  "activation)")
        try:
            nn = NNAssignment.from_table(data["nn"])
        except ValueError as exc:
            raise AssignmentError(f"{where}: {exc}") from exc
    return Assignment(
        nn=nn, name=data.get("name") or Path(source).stem or "assignment", source=source, required=required,
        optional=optional, about=str(data.get("about", "")), seed_by_hand=seed,
        case_points=_points(points.get("cases", {}), f"{where}: [points] cases"),
        tag_points=_points(points.get("tags", {}), f"{where}: [points] tags"),
        costs=tuple((str(k), _cost(v, f"{where}: [costs] {k}")) for k, v in costs.items()),
    )


def load_assignment(path: str | Path) -> Assignment:
    """The assignment in a TOML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AssignmentError(f"{path}: cannot read the assignment file: {exc.strerror or exc}") from exc
    return parse_assignment(text, str(path))


def default_assignment() -> Assignment:
    """The shipped default: the micrograd lecture's ops."""
    text = resources.files(__package__).joinpath("default_assignment.toml").read_text(encoding="utf-8")
    return parse_assignment(text)


def find_assignment(selectors: Iterable[str | Path]) -> Path | None:
    """``assignment.toml`` in the folder of the cases (a folder given, or a case file's);
    an error when the selectors' folders hold different ones."""
    found: set[Path] = set()
    for selector in selectors:
        path = Path(str(selector).partition("::")[0])
        folder = path if path.is_dir() else path.parent
        if (folder / ASSIGNMENT_FILE).is_file():
            found.add((folder / ASSIGNMENT_FILE).resolve())
    if len(found) > 1:
        raise AssignmentError(f"the cases' folders hold {len(found)} assignment files ({', '.join(map(str, found))}); "
                              "choose one with --assignment")
    return next(iter(found), None)


@dataclass(frozen=True)
class Rubric:
    """How checks become points."""

    partial_credit: bool = True  #: a case earns the share of its checks that agree
    unsupported_credit: float = 0.0  #: share of a case's weight when it needs a missing required form


@dataclass(frozen=True)
class GradeConfig:
    """Everything that decides a grade besides the submission itself (picklable, for workers)."""

    cases: tuple[Case, ...]
    rubric: Rubric = field(default_factory=Rubric)
    limits: Limits = field(default_factory=Limits)
    samples: int = 2
    seed: int = 0
    cache_dir: str | None = None  #: answer-key cache shared by all workers (None: memory only)
    hidden: tuple[str, ...] = ()  #: folders the child may not read (caches, reports, cases...)
    probes: bool = True  #: the capability table (the probes' op forms)
    diagnose: bool = True  #: name known bugs (every probe) and search a minimal counterexample
    html: bool = False  #: also write each submission's report.html (and the class's)
    feedback: bool = False  #: every failing case's per-node table (Gradescope shows them); else the detailed cases'
    sandbox: bool = True  #: False runs submissions in the grader's process: trusted code only (benchmarks)
    assignment: Assignment = field(default_factory=lambda: default_assignment())

    @cached_property
    def digest(self) -> str:
        """A hash of the case set, the assignment, the rubric and the limits: stored grades
        are redone when it changes."""
        cases = [
            [c.selector, c.program.digest, [sorted(p.items()) for p in c.points], c.weight, c.hidden,
             sorted(c.sample.items()), c.steps, c.lr]
            for c in self.cases
        ]
        blob = json.dumps([GRADER_VERSION, __version__, cases, asdict(self.rubric), asdict(self.limits),
                           self.samples, self.seed, self.probes, self.diagnose, self.html, self.feedback,
                           self.assignment.digest],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @cached_property
    def session(self) -> Session:
        """What grading remembers in this process: answer keys (from ``cache_dir``) and random
        points; one per config object, never pickled (a worker makes its own)."""
        from ..answer_keys import AnswerKeys
        from ..plan import Session

        return Session(AnswerKeys(Path(self.cache_dir) if self.cache_dir else None))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "session"}
