"""What runs the student's ``nn.py``: build the model, read and write its parameters, call
it, train it, and return raw numbers. It judges nothing (:mod:`gradcheck_lab.nn.checks` does, in the parent).

Every request and reply is plain JSON, and this module imports only the standard library
(a sandboxed child loads it as a file, beside nothing else of the grader), so the child
runs :func:`observe_nn` exactly as this process does. It reads only what the contract names:
``MLP(nin, nouts)``, ``model.layers[i].neurons[j].w[k]`` / ``.b``, ``parameters()``,
``zero_grad()``, ``.data``, ``.grad``, ``backward()`` and, when the submission has one,
``train(model, xs, ys, steps, lr)``.

>>> import gradcheck_lab.nn.reference as ref
>>> reply = observe_nn(vars(ref), {"kind": "structure", "nin": 2, "nouts": [2, 1]})
>>> reply["count"], reply["stable"], reply["shared"], reply["zero_grad_left"]
(9, True, [], [])
"""

from __future__ import annotations

import inspect
import math
import numbers
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["ContractError", "addresses", "forget_shadowing", "loss_of", "names_for", "observe_nn"]

NO_MLP = "no MLP class"  #: how a submission without nn.py is told apart from a broken one
PROBE_INPUTS = (-0.75, 0.5, 1.25)  #: pre-activations the activation probe feeds the first neuron


class ContractError(Exception):
    """The submission does not offer what the contract names (an ``MLP``, ``layers``...)."""


class _Unsupported(Exception):
    """The Value class lacks a method a loss needs (``relu`` for the hinge loss)."""


def _to_float(x: Any) -> float | None:
    """A real number as a float, else None (as :func:`gradcheck_lab.executors.to_float`;
    repeated here because the child holds nothing else of ours)."""
    if type(x) is float:
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return None


def loss_of(outputs: Sequence[Any], ys: Sequence[float], kind: str) -> Any:
    """The loss ``kind`` (a :class:`~gradcheck_lab.nn.network.Loss` value) of ``outputs``,
    built with their own operators in the order of :func:`~gradcheck_lab.nn.network.loss_program`.

    >>> loss_of([0.5, 0.0], [1.0, -1.0], "mse-mean")
    0.625
    """
    terms = []
    for out, y in zip(outputs, ys):
        if kind == "hinge":
            if not isinstance(out, float | int) and not callable(getattr(type(out), "relu", None)):
                raise _Unsupported("relu")
            margin = out * -float(y) + 1.0
            terms.append(margin.relu() if hasattr(margin, "relu") else max(margin, 0.0))
        else:
            terms.append((out - float(y)) ** 2)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total if kind == "mse-sum" else total * (1.0 / len(terms))


def forget_shadowing(folder: str) -> None:
    """Forget imported modules named as ``folder``'s own ``.py`` files but from elsewhere
    (another submission's ``engine``), so that ``from engine import Value`` finds this one's."""
    import os
    import sys

    try:
        files = [f[:-3] for f in os.listdir(folder) if f.endswith(".py")]
    except OSError:
        return
    for name in files:
        module = sys.modules.get(name)
        where = os.path.abspath(getattr(module, "__file__", None) or "/")
        if module is not None and not where.startswith(os.path.abspath(folder) + os.sep):
            del sys.modules[name]


def names_for(namespace: dict[str, Any], folder: str) -> dict[str, Any]:
    """Where the nn contract's names live: ``namespace`` (the code that defined Value) when it
    has ``MLP``, else the module of ``folder`` whose text defines ``class MLP`` (``nn.py``
    first), imported with ``folder`` on ``sys.path`` so its ``from engine import Value`` works.

    >>> names_for({"MLP": 1}, "/nonexistent")["MLP"]
    1
    """
    import importlib.util
    import os
    import re
    import sys

    if "MLP" in namespace:
        return namespace
    try:
        files = sorted((f for f in os.listdir(folder) if f.endswith(".py")), key=lambda f: (f != "nn.py", f))
    except OSError:
        files = []
    forget_shadowing(folder)
    for name in files:
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8", errors="replace") as handle:
            if not re.search(r"^\s*class\s+MLP\b", handle.read(), re.MULTILINE):
                continue
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(name[:-3], path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[name[:-3]] = module
        spec.loader.exec_module(module)
        return vars(module)
    return namespace


def _names(nin: int, nouts: Sequence[int]) -> list[str]:
    sizes = [nin, *nouts]
    return [name for i, size in enumerate(nouts) for j in range(size)
            for name in [*(f"L{i}.N{j}.w{k}" for k in range(sizes[i])), f"L{i}.N{j}.b"]]


def _model(namespace: Mapping[str, Any], nin: int, nouts: Sequence[int]) -> Any:
    mlp = namespace.get("MLP")
    if not callable(mlp):
        raise ContractError(f"{NO_MLP}: the contract is micrograd's nn.py, MLP(nin, nouts)")
    try:
        return mlp(nin, list(nouts))
    except TypeError as exc:
        raise ContractError(f"MLP({nin}, {list(nouts)}) raised TypeError: {exc}") from exc


def addresses(model: Any, nin: int, nouts: Sequence[int]) -> dict[str, Any]:
    """Each parameter name (``L0.N1.w0``) -> the student's Value, found as the contract
    names it (``model.layers[0].neurons[1].w[0]``); by ``parameters()`` order otherwise."""
    sizes = [nin, *nouts]
    try:
        layers = list(model.layers)
        if len(layers) != len(nouts):
            raise ContractError(f"MLP({nin}, {list(nouts)}) has {len(layers)} layers, not {len(nouts)}")
        found: dict[str, Any] = {}
        for i, layer in enumerate(layers):
            neurons = list(layer.neurons)
            if len(neurons) != nouts[i]:
                raise ContractError(f"layer {i} has {len(neurons)} neurons, not {nouts[i]}")
            for j, neuron in enumerate(neurons):
                weights = list(neuron.w)
                if len(weights) != sizes[i]:
                    raise ContractError(f"neuron {j} of layer {i} has {len(weights)} weights, not {sizes[i]}")
                found.update({f"L{i}.N{j}.w{k}": w for k, w in enumerate(weights)})
                found[f"L{i}.N{j}.b"] = neuron.b
        return found
    except AttributeError:
        params = list(model.parameters())
        names = _names(nin, nouts)
        if len(params) != len(names):
            raise ContractError("the model has no layers[i].neurons[j].w / .b, and parameters() gives "
                                f"{len(params)} values, not {len(names)}") from None
        return dict(zip(names, params))


def _set(params: Mapping[str, Any], values: Mapping[str, float]) -> None:
    for name, value in values.items():
        params[name].data = float(value)


def _read(params: Mapping[str, Any], what: str = "data") -> dict[str, float | None]:
    return {name: _to_float(getattr(p, what, None)) for name, p in params.items()}


def _outputs(result: Any) -> list[Any]:
    return list(result) if isinstance(result, list | tuple) else [result]


def _number(x: Any) -> float | None:
    return _to_float(x) if _to_float(x) is not None else _to_float(getattr(x, "data", None))


def _structure(namespace: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any]:
    nin, nouts = req["nin"], req["nouts"]
    model = _model(namespace, nin, nouts)
    params = addresses(model, nin, nouts)
    first, second = list(model.parameters()), list(model.parameters())
    known = {id(p) for p in params.values()}
    seen: dict[int, str] = {}
    shared = []
    for name, p in params.items():
        if id(p) in seen:
            shared.append([name, seen[id(p)]])
        seen.setdefault(id(p), name)
    reply: dict[str, Any] = {
        "count": len(first),
        "positions": {name: [i for i, q in enumerate(first) if q is p] for name, p in params.items()},
        "extra": sum(1 for q in first if id(q) not in known),
        "stable": [id(p) for p in first] == [id(p) for p in second],
        "shared": shared,
    }
    for k, p in enumerate(params.values()):
        p.grad = 1.0 + k / 64
    zero = getattr(model, "zero_grad", None)
    if callable(zero):
        zero()
        reply["zero_grad_left"] = [name for name, g in _read(params, "grad").items() if g != 0.0]
    else:
        reply["zero_grad_left"] = None
    try:  # the first neuron (or, without neurons, the first layer) on known sums
        for name, p in params.items():
            if name.startswith("L0.N0."):
                p.data = 1.0 if name == "L0.N0.w0" else 0.0
        layer = model.layers[0]
        neuron = getattr(layer, "neurons", [None])[0]
        unit = neuron if neuron is not None else (lambda x: _outputs(layer(x))[0])
        reply["probe"] = [_number(_outputs(unit([z] + [0.0] * (nin - 1)))[0]) for z in PROBE_INPUTS]
        if neuron is not None:
            reply["flags"] = sorted(set(_parameters_of(type(neuron))))
    except Exception as exc:  # no layers[0], or its first unit cannot be called alone
        reply["probe_error"] = f"{type(exc).__name__}: {exc}"
    return reply


def _signature(f: Any) -> str:
    try:
        return str(inspect.signature(f))
    except (TypeError, ValueError):
        return "(...)"


def _parameters_of(cls: type) -> list[str]:
    try:
        return list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return []


def _forward(namespace: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any]:
    nin, nouts = req["nin"], req["nouts"]
    model = _model(namespace, nin, nouts)
    params = addresses(model, nin, nouts)
    outputs = []
    for point in req["points"]:
        _set(params, point)
        outputs.append([[_number(o) for o in _outputs(model(list(x)))] for x in req["xs"]])
    _set(params, req["points"][0])
    value = type(next(iter(params.values())))
    try:
        as_values: Any = [_number(o) for o in _outputs(model([value(v) for v in req["xs"][0]]))]
    except Exception as exc:
        as_values = f"{type(exc).__name__}: {exc}"
    return {"outputs": outputs, "as_values": as_values}


def _gradients(namespace: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any]:
    nin, nouts = req["nin"], req["nouts"]
    model = _model(namespace, nin, nouts)
    params = addresses(model, nin, nouts)
    replies: dict[str, Any] = {}
    for name in req["losses"]:
        _set(params, req["params"])
        for p in params.values():
            p.grad = 0.0
        hidden: dict[str, Any] = {}
        outputs = []
        for s, x in enumerate(req["xs"]):
            h: list[Any] = list(x)
            for i, layer in enumerate(model.layers):
                h = _outputs(layer(h))
                hidden.update({f"s{s}.L{i}.N{j}": v for j, v in enumerate(h)})
            outputs.extend(h)
        try:
            loss = loss_of(outputs, req["ys"], name)
        except _Unsupported as exc:
            replies[name] = {"unsupported": str(exc)}
            continue
        loss.backward()
        replies[name] = {
            "loss": _number(loss), "grads": _read(params, "grad"),
            "hidden": {k: [_number(v), _to_float(getattr(v, "grad", None))] for k, v in hidden.items()},
        }
    return replies


def _losses_at(namespace: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any]:
    """The loss (through ``model(x)``) at each parameter point: finite differences' forwards."""
    nin, nouts = req["nin"], req["nouts"]
    model = _model(namespace, nin, nouts)
    params = addresses(model, nin, nouts)
    values: list[float | None] = []
    for point in req["points"]:
        try:
            _set(params, point)
            outputs = [o for x in req["xs"] for o in _outputs(model(list(x)))]
            value = _number(loss_of(outputs, req["ys"], req["loss"]))
        except Exception:
            value = None
        values.append(value if value is not None and math.isfinite(value) else None)
    return {"values": values}


def _train(namespace: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any]:
    nin, nouts, steps, lr = req["nin"], req["nouts"], req["steps"], req["lr"]
    model = _model(namespace, nin, nouts)
    params = addresses(model, nin, nouts)
    _set(params, req["params"])
    xs, ys = [list(x) for x in req["xs"]], list(req["ys"])
    train = namespace.get("train")
    snapshots: list[dict[str, float | None]] = []
    returned: Any = None
    note = ""
    if callable(train):
        try:
            inspect.signature(train).bind(model, xs, ys, steps, lr)
        except TypeError as exc:
            note = f"train{_signature(train)} is not train(model, xs, ys, steps, lr) ({exc}): our loop ran instead"
            train = None
        except ValueError:  # no signature to read (a builtin): call it and see
            pass
    if callable(train):
        cls = type(model)

        def recorded(self: Any, x: Any) -> Any:
            snapshots.append(_read(params))
            return cls.__call__(self, x)

        model.__class__ = type(cls.__name__, (cls,), {"__call__": recorded})
        result = train(model, xs, ys, steps, lr)
        if isinstance(result, list | tuple):
            returned = [_number(v) for v in result]
        elif result is not None:
            returned = [_number(result)]
        if returned is not None and any(v is None for v in returned):
            returned = None  # not a list of losses: nothing to compare
        mode = "train"
    else:
        for _ in range(steps):
            snapshots.append(_read(params))
            loss = loss_of([o for x in xs for o in _outputs(model(x))], ys, req["loss"])
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
        mode = "pieces"
    reply: dict[str, Any] = {"mode": mode, "snapshots": snapshots, "final": _read(params),
                             "final_grads": _read(params, "grad"), "returned": returned, "note": note}
    return reply


_KINDS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    "structure": _structure, "forward": _forward, "gradients": _gradients, "losses": _losses_at, "train": _train,
}


def observe_nn(namespace: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Run one request (``kind``: structure, forward, gradients, losses, train) against the
    submission's names; a failure comes back as ``{"error": {...}}``, never raised."""
    try:
        return _KINDS[request["kind"]](namespace, request)
    except Exception as exc:
        contract = isinstance(exc, ContractError)
        lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip().splitlines()
        return {"error": {"kind": "contract" if contract else "exception",
                          "message": str(exc) if contract else f"{type(exc).__name__}: {exc}",
                          "traceback": "\n".join(lines[-6:])}}
