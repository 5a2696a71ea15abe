"""The nn checks: plan requests, let a runner execute them, judge the raw replies.

Four checks, each a case kind with its own report section (:class:`NNKind`):

- **structure**: ``parameters()`` lists every weight and bias exactly once, in a stable
  order; ``zero_grad()`` resets every one; which activation the neurons apply.
- **forward**: with the parameters set to known values, the student's ``MLP`` equals the
  same network built from the op table (:class:`~.network.Network`), symbolically, at a
  few two-moons inputs, fed as numbers and as Values.
- **gradients**: the gradient of the MSE and the hinge loss with respect to every
  parameter, and every neuron output, against the symbolic truth; finite differences on
  the student's own forward pass say which side is wrong; the first wrong neuron is named.
- **training**: a few steps of the student's loop (its ``train`` function, or the pieces:
  forward, ``zero_grad``, ``backward``, update) against exact gradient descent from the
  same start, step by step. A departure is named by the bug whose prediction it matches.

A runner is any ``request -> reply`` function: :func:`in_process` here, a sandboxed child
for grading. Nothing here runs student code itself.

>>> import gradcheck_lab.nn.reference as ref
>>> result = check_nn(in_process(vars(ref)))
>>> [(s.kind.value, s.verdict) for s in result.sections], result.codes
([('structure', 'ok'), ('forward', 'ok'), ('gradients', 'ok'), ('training', 'ok')], [])
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..answer_keys import AnswerKeys
from ..compare import NodeCheck, PointCheck, _fd_witness
from ..finite_diff import estimate, plan_steps
from ..program import Program, evaluate, float_apply
from ..submissions.nn_observe import NO_MLP, PROBE_INPUTS, observe_nn
from ..training import RTOL, Training, Trajectory, exact_descent
from ..truth import SAFETY, UNIT_ROUNDOFF, PointTruth
from .bugs import NN_CATALOG, NNKind
from .dataset import two_moons
from .network import Activation, Loss, Network

__all__ = ["Evidence", "NNConfig", "NNResult", "NNSection", "Runner", "check_nn", "in_process", "observed_point"]

Runner = Callable[[dict[str, Any]], dict[str, Any]]
INCIDENTS = ("timeout", "crash", "memory")  #: a runner's errors that are the process's, not the code's
_FD_LIMIT = 2  #: mismatching parameters that get a finite-difference witness (first disagreeing loss only)


@dataclass(frozen=True)
class NNConfig:
    """What the nn checks ask: the network, the data, the descent, and the contract's variant.

    ``activation`` and ``linear_output`` None: read from the submission (the first neuron's
    response; a ``nonlin`` flag on ``Neuron`` means micrograd's linear output layer, its
    absence the lecture's network with the activation everywhere).
    """

    nin: int = 2
    nouts: tuple[int, ...] = (3, 3, 1)
    samples: int = 4
    steps: int = 5
    lr: float = 0.05
    seed: int = 0
    loss: Loss = Loss.MSE_MEAN  #: what the pieces loop minimises (a ``train`` function picks its own)
    losses: tuple[Loss, ...] = (Loss.MSE_MEAN, Loss.HINGE)  #: the gradients check's losses
    activation: Activation | None = None
    linear_output: bool | None = None

    @property
    def data(self) -> tuple[list[list[float]], list[float]]:
        return two_moons(self.samples, seed=self.seed)

    def request(self, kind: str, **more: Any) -> dict[str, Any]:
        xs, ys = self.data
        return {"kind": kind, "nin": self.nin, "nouts": list(self.nouts), "xs": xs, "ys": ys, **more}


@dataclass
class Evidence:
    """One observation behind a code: where, what the truth is, what the submission gave."""

    where: str
    expected: str
    got: str
    predicted: str = ""


@dataclass
class NNSection:
    """One check's outcome: ``ok``, ``wrong``, ``skipped`` (an earlier check failed) or ``error``."""

    kind: NNKind
    verdict: str = "ok"
    lines: list[str] = field(default_factory=list)
    table: list[NodeCheck] = field(default_factory=list)  #: gradients: the nodes that disagree
    first_wrong: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict in ("ok", "skipped")


@dataclass
class NNResult:
    """Every nn check of one submission, and the codes its evidence names."""

    network: Network | None = None
    sections: list[NNSection] = field(default_factory=list)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    training: Training | None = None
    absent: bool = False  #: the submission has no ``MLP`` at all (no nn.py)
    unit_roundoff: float = UNIT_ROUNDOFF  #: the engine's (2^-24 for a float32 one): tolerances follow it

    @property
    def rtol(self) -> float:
        """How far (relative) two descents may drift apart: a float32 engine's drift more."""
        return RTOL if self.unit_roundoff <= UNIT_ROUNDOFF else 1e-3
    mode: str = ""  #: ``train`` (the student's function) or ``pieces`` (our loop on the student's parts)
    loss: Loss | None = None  #: what the student's training minimises
    notes: list[str] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [c for c in NN_CATALOG if c in self.evidence]

    @property
    def ok(self) -> bool:
        return not self.codes and all(s.ok for s in self.sections)

    def section(self, kind: NNKind) -> NNSection:
        return next(s for s in self.sections if s.kind is kind)

    def name(self, code: str, *evidence: Evidence) -> None:
        self.evidence.setdefault(code, []).extend(evidence)

    def name_generic(self, code: str, *evidence: Evidence) -> bool:
        """Name a generic code (``nn-forward``, ``nn-gradients``, ``nn-training``) unless an
        earlier check's code already explains the failure (a wrong forward pass makes wrong
        gradients, wrong gradients a wrong descent); return whether it was named."""
        if self.evidence:
            return False
        self.name(code, *evidence)
        return True


def in_process(names: Mapping[str, Any], seconds: float | None = None) -> Runner:
    """A runner over a submission's names loaded in this process (trusted code only); each
    request may run ``seconds`` (then it fails as an exception, in the main thread)."""
    import contextlib
    import io

    from ..implementations import TimeLimit, time_limit

    def run(request: dict[str, Any]) -> dict[str, Any]:
        try:
            with contextlib.redirect_stdout(io.StringIO()), time_limit(seconds, f"the nn {request['kind']} check"):
                reply = observe_nn(names, request)
        except TimeLimit as exc:
            return {"error": {"kind": "timeout", "message": str(exc), "traceback": ""}}
        plain: dict[str, Any] = json.loads(json.dumps(reply))  # what a child would send: plain JSON
        return plain

    return run


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def _close(a: float | None, b: float, tol: float) -> bool:
    return a is not None and abs(a - b) <= tol


def _failed(result: NNResult, section: NNSection, reply: Mapping[str, Any]) -> bool:
    """Record a reply's error (a broken contract or an exception) in ``section``."""
    error = reply.get("error")
    if not error:
        return False
    section.verdict = "error"
    section.lines.append(error["message"])
    result.absent = result.absent or str(error["message"]).startswith(NO_MLP)
    if error.get("traceback"):
        section.lines.append(error["traceback"])
    if error["kind"] in INCIDENTS:  # the process failed: the grade's verdict says so, not a code
        section.lines.insert(0, f"{error['kind']}: the checks stopped here")
        return True
    code = "nn-contract" if error["kind"] == "contract" else "nn-exception"
    result.name(code, Evidence(section.kind.value, "the contract's behaviour", error["message"]))
    return True


# --------------------------------------------------------------------------- structure


_ACTIVATIONS: dict[Activation, Callable[[float], float]] = {
    Activation.RELU: lambda z: max(z, 0.0),
    Activation.TANH: math.tanh,
    Activation.SIGMOID: lambda z: 1.0 / (1.0 + math.exp(-z)),
    Activation.LINEAR: lambda z: z,
}


def _activation(probe: Sequence[float | None]) -> Activation | None:
    """The activation whose values at :data:`PROBE_INPUTS` the first neuron gave."""
    for act, f in _ACTIVATIONS.items():
        if all(_close(got, f(z), 1e-9 * (1 + abs(f(z)))) for got, z in zip(probe, PROBE_INPUTS)):
            return act
    return None


def _structure(result: NNResult, config: NNConfig, run: Runner) -> Network | None:
    section = NNSection(NNKind.STRUCTURE)
    result.sections.append(section)
    reply = run(config.request("structure"))
    if _failed(result, section, reply):
        return None
    positions: dict[str, list[int]] = reply["positions"]
    expected = len(positions)
    section.lines.append(f"parameters() gives {reply['count']} values; the network has {expected} weights and biases")
    shared = [(a, b) for a, b in reply["shared"]]
    if shared:
        result.name("nn-shared-weights",
                    *(Evidence(a, "its own Value", f"the same Value as {b}") for a, b in shared[:6]))
        section.lines.append(f"{len(shared)} parameters are the same Value as another: "
                             + ", ".join(f"{a} is {b}" for a, b in shared[:4]))
    shared_names = {a for a, _ in shared}
    missing = [n for n, p in positions.items() if not p and n not in shared_names]
    twice = [n for n, p in positions.items() if len(p) > 1 and n not in shared_names]
    if missing and all(n.endswith(".b") for n in missing):
        result.name("nn-bias-not-in-parameters", *(Evidence(n, "in parameters()", "missing") for n in missing[:6]))
    elif missing:
        result.name("nn-parameters", *(Evidence(n, "in parameters()", "missing") for n in missing[:6]))
    if missing:
        section.lines.append(f"missing from parameters(): {', '.join(missing[:8])}"
                             + (f" and {len(missing) - 8} more" if len(missing) > 8 else ""))
    if twice and not shared:
        result.name("nn-parameters", *(Evidence(n, "once in parameters()", f"{len(positions[n])} times")
                                       for n in twice[:6]))
        section.lines.append(f"listed more than once: {', '.join(twice[:8])}")
    if reply["extra"]:
        result.name("nn-parameters", Evidence("parameters()", "only the weights and biases",
                                              f"{reply['extra']} other values"))
        section.lines.append(f"parameters() also gives {reply['extra']} values that are no weight or bias")
    if not reply["stable"]:
        result.name("nn-parameters", Evidence("parameters()", "the same order on every call", "another order"))
        section.lines.append("two calls of parameters() give different orders (a set?): updates cannot be matched")
    left = reply["zero_grad_left"]
    if left is None:
        result.name("nn-contract", Evidence("zero_grad()", "a method of the model", "missing"))
        section.lines.append("the model has no zero_grad()")
    else:
        listed = [n for n in left if positions.get(n)]
        if listed:
            result.name("nn-partial-zero-grad", *(Evidence(n, "grad 0 after zero_grad()", "unchanged")
                                                  for n in listed[:6]))
            section.lines.append(f"zero_grad() leaves {len(listed)} grads as they were: {', '.join(listed[:6])}")
    probe = reply.get("probe")
    activation = config.activation or (_activation(probe) if probe else None)
    if activation is None:
        activation = Activation.RELU
        why = f"its response {probe} is no known activation" if probe else reply.get("probe_error", "")
        section.lines.append(f"the first neuron could not tell its activation ({why}); judged as relu")
    linear_output = config.linear_output
    if linear_output is None:
        linear_output = "nonlin" in reply.get("flags", [])  # unknown: the lecture's, unless its outputs say linear
    network = Network(config.nin, config.nouts, activation, linear_output)
    section.lines.append(f"variant: {activation.value} neurons, "
                         + ("a linear output layer (Neuron has a nonlin flag)" if linear_output else
                            f"{activation.value} on the output layer too (Neuron has no nonlin flag)"))
    if result.evidence:
        section.verdict = "wrong"
    return network


# --------------------------------------------------------------------------- forward


@functools.lru_cache(maxsize=32)
def _program(network: Network, xs: str, ys: str, loss: Loss) -> Program:
    return network.program(json.loads(xs), json.loads(ys), loss)


def _flipped(network: Network, start: Mapping[str, float]) -> dict[str, float]:
    """``start`` with the output layer's weights and bias negated: its pre-activations change
    sign, so a relu on the output layer shows at one of the two points."""
    last = f"L{len(network.nouts) - 1}."
    return {n: -v if n.startswith(last) else v for n, v in start.items()}


def _no_bias(point: Mapping[str, float]) -> dict[str, float]:
    return {n: 0.0 if n.endswith(".b") else v for n, v in point.items()}


def _forward(result: NNResult, config: NNConfig, run: Runner, network: Network, keys: AnswerKeys) -> Network:
    """The forward check; returns the network the later checks judge against (the lecture's
    variant, read as having a linear output layer when its outputs say so). Wrong outputs
    are named by the variant that computes them all: the other output layer, no biases."""
    section = NNSection(NNKind.FORWARD)
    result.sections.append(section)
    xs, ys = config.data
    start = network.start(xs, config.seed)
    points = [start, _flipped(network, start)]
    reply = run(config.request("forward", points=points))
    if _failed(result, section, reply):
        return network
    program = _program(network, json.dumps(xs), json.dumps(ys), Loss.MSE_SUM)
    truths = keys.get(program, points)
    index = {n.name: k for k, n in enumerate(program.nodes)}
    last = len(network.nouts) - 1
    other = Network(network.nin, network.nouts, network.activation, not network.linear_output)
    variants: dict[str, Callable[[Mapping[str, float], list[float]], list[float]]] = {
        "other-output": lambda p, x: other.outputs(p, x),
        "nn-bias-unused": lambda p, x: network.outputs(_no_bias(p), x),
    }
    wrong: list[tuple[Evidence, float | None, Mapping[str, float], list[float], int]] = []
    for point, truth, outputs in zip(points, truths, reply["outputs"]):
        for s, outs in enumerate(outputs):
            for j, got in enumerate(outs):
                k = index[f"s{s}.L{last}.N{j}"]
                if not _close(got, truth.values[k], SAFETY * result.unit_roundoff * truth.value_bounds[k]):
                    wrong.append((Evidence(f"MLP({xs[s]})[{j}]", _fmt(truth.values[k]), _fmt(got)), got, point,
                                  xs[s], j))
    first, truth = index[f"s0.L{last}.N0"], truths[0]
    as_values = reply["as_values"]
    if isinstance(as_values, str):
        section.lines.append(f"MLP called on a list of Values raised {as_values}")
        result.name("nn-contract", Evidence("MLP([Value(x1), Value(x2)])", "a Value", as_values))
    elif not _close(as_values[0], truth.values[first], SAFETY * result.unit_roundoff * truth.value_bounds[first]):
        section.lines.append(f"MLP called on Values gives {_fmt(as_values[0])}, on numbers the truth "
                             f"{_fmt(truth.values[first])}")
        wrong.append((Evidence(f"MLP([Value(x) for x in {xs[0]}])", _fmt(truth.values[first]), _fmt(as_values[0])),
                      as_values[0], start, xs[0], 0))
    section.lines.append(f"{len(xs)} inputs (two moons) at 2 known parameter settings (the second with the output "
                         "layer negated), as numbers and as Values")
    if not wrong:
        return network
    explained = ""
    for name, variant in variants.items():
        predictions = [variant(point, x)[j] for _, _, point, x, j in wrong]
        if all(_close(got, v, 1e-9 * (1 + abs(v))) for (_, got, _, _, _), v in zip(wrong, predictions)):
            for item, v in zip(wrong, predictions):
                item[0].predicted = _fmt(v)
            explained = name
            break
    if explained == "other-output" and not network.linear_output and config.linear_output is None:
        section.lines.append("the output layer is linear (no nonlin flag, but its outputs say so): judged as such")
        return other
    section.verdict = "wrong"
    shown = [w[0] for w in wrong[:4]]
    if explained == "other-output" and network.linear_output:
        result.name("nn-output-nonlin", *shown)
        section.lines.append(f"the outputs are those of the network with {network.activation.value} on the "
                             "output layer")
    elif explained == "nn-bias-unused":
        result.name("nn-bias-unused", *shown)
        section.lines.append("the outputs are those of the network with every bias 0")
    else:
        result.name_generic("nn-forward", *shown)
        section.lines.append(f"{len(wrong)} outputs differ from the network built from the op table")
    return network


# --------------------------------------------------------------------------- gradients


def _node_evidence(loss: Loss, nc: NodeCheck) -> Evidence:
    if nc.verdict == "forward-mismatch":
        return Evidence(f"{loss.value}: {nc.name}", _fmt(nc.symbolic_value), _fmt(nc.value))
    return Evidence(f"{loss.value}: d loss/d {nc.name}", _fmt(nc.symbolic_grad), _fmt(nc.grad), nc.detail)


def observed_point(program: Program, truth: PointTruth, start: Mapping[str, float],
                   got: Mapping[str, Any], unit_roundoff: float = UNIT_ROUNDOFF) -> PointCheck:
    """A gradients reply (parameters' grads, neuron outputs' data and grad) judged node by
    node against the answer key; nodes the student's code does not expose stay ``ok``."""
    point = PointCheck(0, dict(start), "given")
    observed = {n: (start[n], got["grads"][n]) for n in start} | {k: tuple(v) for k, v in got["hidden"].items()}
    for k, node in enumerate(program.nodes):
        nc = NodeCheck(k, node.title, "ok", symbolic_value=truth.values[k], symbolic_grad=truth.grads[k],
                       value_tol=SAFETY * unit_roundoff * truth.value_bounds[k],
                       grad_tol=SAFETY * unit_roundoff * truth.grad_bounds[k])
        if node.name in observed:
            nc.value, nc.grad = observed[node.name]
            if not _close(nc.value, truth.values[k], nc.value_tol or 0.0):
                nc.verdict = "forward-mismatch"
            elif not _close(nc.grad, truth.grads[k], nc.grad_tol or 0.0):
                nc.verdict = "grad-mismatch"
        point.nodes.append(nc)
    return point


def _gradients(result: NNResult, config: NNConfig, run: Runner, network: Network, keys: AnswerKeys) -> None:
    section = NNSection(NNKind.GRADIENTS)
    result.sections.append(section)
    xs, ys = config.data
    start = network.start(xs, config.seed)
    reply = run(config.request("gradients", params=start, losses=[loss.value for loss in config.losses]))
    if _failed(result, section, reply):
        return
    names = network.names()
    for loss in config.losses:
        got = reply[loss.value]
        if "unsupported" in got:
            section.lines.append(f"{loss.value}: skipped, the Value class has no {got['unsupported']}")
            continue
        program = _program(network, json.dumps(xs), json.dumps(ys), loss)
        truth = keys.get(program, [start])[0]
        point = observed_point(program, truth, start, got, result.unit_roundoff)
        bad = [nc for nc in point.nodes if nc.verdict != "ok"]
        section.lines.append(f"{loss.value}: loss {_fmt(got['loss'])} (truth {_fmt(truth.values[program.output])}), "
                             f"{len(names)} parameter and {len(got['hidden'])} neuron-output gradients, "
                             f"{len(bad)} disagree")
        if not bad:
            continue
        section.verdict = "wrong"
        params = [nc for nc in bad if nc.name in start and nc.verdict == "grad-mismatch"][:_FD_LIMIT]
        if params and not any(nc.fd_grad is not None or nc.detail for nc in section.table):
            plan = plan_steps(program, start, inputs=[nc.name for nc in params])
            values = run(config.request("losses", loss=loss.value, points=plan.points)).get("values", [])
            for nc, est in zip(params, estimate(plan, values or [None] * len(plan.points))):
                if est.value is not None:
                    nc.fd_grad, nc.fd_error = est.value, est.error
                nc.detail = _fd_witness(nc, est)
        first = [program.nodes[k].title for k in point.first_wrong(program)]
        section.first_wrong = first
        if first:
            section.lines.append(f"{loss.value}: the backward pass first goes wrong at {', '.join(first[:3])}")
        section.table.extend(bad)
        if not result.name_generic("nn-gradients", *(_node_evidence(loss, nc) for nc in bad[:3])):
            section.lines.append(f"{loss.value}: explained by {', '.join(result.codes)}")


# --------------------------------------------------------------------------- training


def _trajectory(reply: Mapping[str, Any], steps: int, names: Sequence[str]) -> Trajectory | None:
    """The parameters before each step (and after the last), from the snapshots taken at
    every call of the model; None when the calls cannot be split into ``steps`` steps."""
    snaps: list[dict[str, Any]] = reply["snapshots"]
    states: list[dict[str, Any]] | None = None
    if steps and snaps and len(snaps) % steps == 0:
        per = len(snaps) // steps
        blocks = [snaps[s * per: (s + 1) * per] for s in range(steps)]
        if all(all(b == block[0] for b in block) for block in blocks):
            states = [block[0] for block in blocks]
    if states is None:
        return None
    states.append(reply["final"])
    if any(v is None for state in states for v in state.values()):
        return None
    return Trajectory(params=[{n: float(state[n]) for n in names} for state in states])


def _parts(a: Trajectory, b: Trajectory, rtol: float) -> int | None:
    """The first step where ``a`` and ``b`` differ by more than ``rtol`` (parameters, and
    losses where both have them); None if never."""

    def far(x: float, y: float) -> bool:
        return not abs(x - y) <= rtol * (1.0 + abs(y))  # also true for nan

    for step, (pa, pb) in enumerate(zip(a.params, b.params)):
        losses = (a.losses[step], b.losses[step]) if step < min(len(a.losses), len(b.losses)) else None
        if (losses and far(*losses)) or any(far(pa[x], pb[x]) for x in pb):
            return step
    return None


def _same_params(a: Trajectory, b: Trajectory, rtol: float = RTOL) -> bool:
    """Whether ``a`` and ``b`` hold the same parameters at every step."""
    return len(a.params) == len(b.params) and _parts(Trajectory(params=a.params), Trajectory(params=b.params),
                                                     rtol) is None


def _same_losses(reply: Mapping[str, Any], other: Mapping[str, Any] | None, rtol: float = RTOL) -> bool:
    """Whether two train() replies reported the same losses (True when either reported none)."""
    a, b = reply.get("returned") or [], (other or {}).get("returned") or []
    if not a or not b:
        return True
    return len(a) == len(b) and all(x is not None and y is not None and abs(x - y) <= rtol * (1 + abs(y))
                                    for x, y in zip(a, b))


def _predicted_grads(reply: Mapping[str, Any] | None) -> dict[str, float]:
    """The grads a reply's model holds after training (nan where not a number)."""
    grads = reply["final_grads"] if reply else {}
    return {n: g if g is not None else math.nan for n, g in grads.items()}


def _losses(trajectory: Trajectory, program: Program, names: Sequence[str]) -> list[float]:
    """The loss at each of ``trajectory``'s parameters, in plain floats."""
    return [evaluate(program, [p[n] for n in names], float_apply)[program.output] for p in trajectory.params]


@functools.lru_cache(maxsize=256)
def _prediction(code: str, network: Network, loss: Loss, mode: str, request: str) -> dict[str, Any] | None:
    """What a student with bug ``code`` (in the submission's variant) sends back for
    ``request``; None when the bug cannot be written with that loss."""
    from .template import namespace

    replacements = NN_CATALOG[code].replacements
    if not network.linear_output and code != "nn-output-nonlin":  # the lecture's variant
        replacements += NN_CATALOG["nn-output-nonlin"].replacements
    try:
        names = namespace(replacements, activation=network.activation, loss=loss)
    except ValueError:
        return None
    if mode == "pieces":
        names.pop("train", None)
    return in_process(names)(json.loads(request))


def _training(result: NNResult, config: NNConfig, run: Runner, network: Network, keys: AnswerKeys) -> None:
    section = NNSection(NNKind.TRAINING)
    result.sections.append(section)
    xs, ys = config.data
    start = network.start(xs, config.seed)
    request = config.request("train", params=start, steps=config.steps, lr=config.lr, loss=config.loss.value)
    reply = run(request)
    if _failed(result, section, reply):
        return
    result.mode = reply["mode"]
    if reply.get("note"):
        section.lines.append(str(reply["note"]))
    names = network.names()
    mine = _trajectory(reply, config.steps, names)
    if mine is None:
        section.verdict = "error"
        section.lines.append(f"the model was called {len(reply['snapshots'])} times in {config.steps} steps, with "
                             "parameters changing mid-step: the run cannot be split into steps")
        result.name("nn-training", Evidence("train()", "one forward pass per sample and step", "another pattern"))
        return
    candidates = [config.loss] if result.mode == "pieces" else [config.loss, *(x for x in Loss if x != config.loss)]
    exact: dict[Loss, Trajectory] = {}
    for loss in candidates:
        program = _program(network, json.dumps(xs), json.dumps(ys), loss)
        exact[loss] = exact_descent(program, start, config.steps, config.lr, keys)
    rtol = result.rtol
    chosen = next((loss for loss in candidates if _same_params(mine, exact[loss], rtol)), None)
    returned = reply.get("returned") or []
    if chosen is None:  # which loss does the student's first step, or first reported loss, follow?
        chosen = next((loss for loss in candidates if len(exact[loss].params) > 1
                       and _same_params(Trajectory(params=mine.params[:2]), Trajectory(params=exact[loss].params[:2]),
                                        rtol)),
                      None)
    if chosen is None and returned and returned[0] is not None:
        chosen = next((loss for loss in candidates if exact[loss].losses and
                       abs(returned[0] - exact[loss].losses[0]) <= rtol * (1 + abs(exact[loss].losses[0]))), None)
    loss = chosen or config.loss
    result.loss = loss
    program = _program(network, json.dumps(xs), json.dumps(ys), loss)
    mine.losses = _losses(mine, program, names)
    truth = exact[loss]
    truth.losses = _losses(truth, program, names)
    parted = _parts(mine, truth, rtol)
    result.training = Training(config.steps, config.lr, truth, mine, parted)
    how = "its train(model, xs, ys, steps, lr)" if result.mode == "train" else \
        "our loop on its pieces (model(x), zero_grad(), backward(), parameters())"
    section.lines.append(f"{config.steps} steps at lr {config.lr:g} from the same start, by {how}; loss {loss.value}"
                         + ("" if chosen or result.mode == "pieces" else " (no loss we know matches its first step)"))
    section.lines.append(result.training.summary)
    if parted is None:
        return
    section.verdict = "wrong"
    found = ""
    got_grads = {n: g if g is not None else math.nan for n, g in reply["final_grads"].items()}
    for code in ("nn-missing-zero-grad", "nn-zero-grad-after-backward", "nn-update-sign", "nn-update-grad",
                 "nn-loss-int-div",
                 "nn-partial-zero-grad", "nn-bias-not-in-parameters", "nn-shared-weights"):
        for guess in ([loss] if chosen else candidates):
            guessed = _prediction(code, network, guess, result.mode, json.dumps(request))
            predicted = _trajectory(guessed, config.steps, names) if guessed and "error" not in guessed else None
            grads = Trajectory(params=[_predicted_grads(guessed)])
            if predicted is not None and _same_params(mine, predicted, rtol) and _same_losses(reply, guessed, rtol) \
                    and _same_params(Trajectory(params=[got_grads]), grads, rtol):
                found = code
                break
        if found:
            break
    step = parted
    diffs = sorted(names, key=lambda n: -abs(mine.params[step][n] - truth.params[step][n]))[:3]
    evidence = [Evidence(f"step {step}: {n}", _fmt(truth.params[step][n]), _fmt(mine.params[step][n]))
                for n in diffs]
    if found:
        section.lines.append(f"the run matches the prediction of {found} at every step")
        result.name(found, *evidence)
    elif not result.name_generic("nn-training", *evidence):
        section.lines.append(f"explained by {', '.join(result.codes)}")
    if returned and result.mode == "train":
        section.lines.append(f"train() reported losses {', '.join(_fmt(v) for v in returned[:6])}")


# --------------------------------------------------------------------------- all


def check_nn(run: Runner, config: NNConfig | None = None, keys: AnswerKeys | None = None, *,
             unit_roundoff: float = UNIT_ROUNDOFF) -> NNResult:
    """Every nn check of one submission, through ``run``; later checks are skipped when the
    network cannot be built. ``unit_roundoff``: the engine's (grading reads it from the engine)."""
    config = config or NNConfig()
    keys = keys or AnswerKeys()
    result = NNResult(unit_roundoff=unit_roundoff)
    network = _structure(result, config, run)
    result.network = network
    if network is None:
        result.sections += [NNSection(kind, "skipped") for kind in list(NNKind)[1:]]
        return result
    network = result.network = _forward(result, config, run, network, keys)
    _gradients(result, config, run, network, keys)
    _training(result, config, run, network, keys)
    return result
