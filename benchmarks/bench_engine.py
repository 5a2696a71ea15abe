"""Forward+backward time per node: ``gradcheck_lab.Value`` against ``micrograd`` 0.1.0.

Run: ``python benchmarks/bench_engine.py`` (needs ``pip install -e '.[bench]'``).

Both engines build the same graphs from plain floats with the ops both have
(``+``, ``*``, ``**`` by a constant, ``relu``, and the composed ``-``), then call
``backward()`` once. The timed region is that build (forward) and that backward;
tearing the graph down and collecting garbage happen outside it. Every repetition
alternates the engines, the garbage collector is off while timing, and each figure
is the median over repetitions, divided by the number of distinct nodes in the graph
(leaves and number constants included: both engines create and visit them).

micrograd sorts the graph recursively (one Python frame per level of depth), so the
recursion limit is raised to ``RECURSION_LIMIT`` for the whole comparison, for both
engines alike; ours sorts iteratively and does not need it. The last row is ours
alone: a chain of a million nodes, where micrograd raises RecursionError.

``--quick`` runs fewer repetitions (a smoke test).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working tree's gradcheck_lab, installed or not

from tabulate import tabulate

from gradcheck_lab import Value as Ours

try:
    from micrograd.engine import Value as Micrograd  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the bench extra is not installed
    sys.exit("micrograd is not installed: pip install -e '.[bench]'  (micrograd==0.1.0)")

RECURSION_LIMIT = 10_000
BIG_CHAIN_NODES = 1_000_000

Builder = Callable[[Any], Any]  # Value class -> output node of a freshly built graph


# --------------------------------------------------------------------------- graphs


def layer(n_in: int = 64, n_out: int = 32) -> Builder:
    """One wide layer as micrograd's ``Neuron`` computes it: sum(w*x, b).relu(), summed."""

    def build(value: Any) -> Any:
        xs = [value(0.01 * ((i * 7) % 13 - 6)) for i in range(n_in)]
        outs = []
        for j in range(n_out):
            ws = [value(0.02 * (((i + 3 * j) * 5) % 11 - 5)) for i in range(n_in)]
            act = sum((w * x for w, x in zip(ws, xs)), value(0.1 * (j % 3)))
            outs.append(act.relu())
        return sum(outs)

    return build


def mlp_loss(sizes: tuple[int, ...] = (3, 16, 16, 1), batch: int = 8) -> Builder:
    """micrograd's demo: an MLP with relu hidden layers, a batch, squared-error loss."""

    def build(value: Any) -> Any:
        params = []
        for k in range(len(sizes) - 1):
            params.append([
                ([value(0.05 * (((i + j + k) * 7) % 9 - 4)) for i in range(sizes[k])], value(0.01 * j))
                for j in range(sizes[k + 1])
            ])
        loss = value(0.0)
        for s in range(batch):
            h = [value(0.1 * (((s + i) * 3) % 7 - 3)) for i in range(sizes[0])]
            for k, layer_params in enumerate(params):
                last = k == len(params) - 1
                h = [sum((w * x for w, x in zip(ws, h)), b) for ws, b in layer_params]
                if not last:
                    h = [a.relu() for a in h]
            loss = loss + (h[0] - (1.0 if s % 2 else -1.0)) ** 2
        return loss * (1.0 / batch)

    return build


def chain(depth: int) -> Builder:
    """A deep chain, cycling ``* 0.5``, ``+ 1.0``, ``** 0.5``, ``relu`` (bounded values)."""

    def build(value: Any) -> Any:
        v = value(1.0)
        for i in range(depth):
            step = i % 4
            if step == 0:
                v = v * 0.5
            elif step == 1:
                v = v + 1.0
            elif step == 2:
                v = v**0.5
            else:
                v = v.relu()
        return v

    return build


def pairwise(n: int = 40) -> Builder:
    """Fan-out from the leaves: every product x_i * x_j (i < j) summed; each x used n-1 times."""

    def build(value: Any) -> Any:
        xs = [value(0.5 + 0.01 * i) for i in range(n)]
        return sum(xs[i] * xs[j] for i in range(n) for j in range(i + 1, n))

    return build


def ladder(steps: int = 200) -> Builder:
    """Fan-out at every level: v = (v*v + v) * 0.5, each v read three times."""

    def build(value: Any) -> Any:
        v = value(0.5)
        for _ in range(steps):
            v = (v * v + v) * 0.5
        return v

    return build


def chain_steps_for(nodes: int) -> int:
    """Chain steps whose graph has about ``nodes`` nodes (6 nodes per 4 steps, plus the leaf)."""
    return (nodes - 1) * 4 // 6


# --------------------------------------------------------------------------- measuring


def graph_size(root: Any) -> tuple[int, int]:
    """Distinct nodes and depth (longest path, in edges) of a graph of either engine."""
    seen: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            seen[id(node)] = 1 + max((seen[id(c)] for c in node._prev), default=-1)
        elif id(node) not in seen:
            seen[id(node)] = -1
            stack.append((node, True))
            stack.extend((c, False) for c in node._prev if id(c) not in seen)
    return len(seen), seen[id(root)]


def time_once(build: Builder, value: Any) -> tuple[int, int]:
    """Nanoseconds of one forward (build) and one backward, with the collector off."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        root = build(value)
        t1 = time.perf_counter_ns()
        root.backward()
        t2 = time.perf_counter_ns()
    finally:
        gc.enable()
    del root  # torn down outside the timed region (micrograd's closures need the collector)
    gc.collect()
    return t1 - t0, t2 - t1


@dataclass
class Timing:
    forward: float  #: median ns per node
    backward: float
    total: float  #: median of forward+backward per repetition, ns per node


def compare(build: Builder, nodes: int, repeats: int) -> dict[str, Timing]:
    """Both engines on one graph, repetitions interleaved; medians per node."""
    engines = {"ours": Ours, "micrograd": Micrograd}
    samples: dict[str, list[tuple[int, int]]] = {name: [] for name in engines}
    for value in engines.values():  # warm-up: imports, caches, allocator
        time_once(build, value)
    for _ in range(repeats):
        for name, value in engines.items():
            samples[name].append(time_once(build, value))
    out = {}
    for name, runs in samples.items():
        out[name] = Timing(
            statistics.median(f for f, _ in runs) / nodes,
            statistics.median(b for _, b in runs) / nodes,
            statistics.median(f + b for f, b in runs) / nodes,
        )
    return out


def check_same_output(build: Builder) -> None:
    """Both engines must compute the same output (else they would not race on one graph)."""
    ours, theirs = build(Ours), build(Micrograd)
    ours.backward()
    theirs.backward()
    if abs(ours.data - theirs.data) > 1e-9 * max(1.0, abs(theirs.data)):
        raise SystemExit(f"engines disagree on the output: {ours.data} vs {theirs.data}")


def big_chain(repeats: int) -> tuple[int, int, float, float, str]:
    """Our engine alone on a ~1,000,000-node chain; micrograd tried once on the same chain."""
    build = chain(chain_steps_for(BIG_CHAIN_NODES))
    root = build(Ours)
    nodes, depth = graph_size(root)
    del root
    runs = [time_once(build, Ours) for _ in range(repeats)]
    fwd = statistics.median(f for f, _ in runs) / nodes
    bwd = statistics.median(b for _, b in runs) / nodes
    theirs = build(Micrograd)
    try:
        theirs.backward()
        verdict = "ran"
    except RecursionError:
        verdict = f"RecursionError (limit {sys.getrecursionlimit():,})"
    del theirs
    gc.collect()
    return nodes, depth, fwd, bwd, verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke test)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 31
    shapes: list[tuple[str, Builder]] = [
        ("layer 64->32 relu, summed", layer()),
        ("MLP 3-16-16-1, batch 8, MSE", mlp_loss()),
        ("chain, depth 900", chain(900)),
        ("fan-out: 40 leaves, all pairs", pairwise()),
        ("fan-out ladder (v*v+v)*0.5 x200", ladder()),
    ]
    default_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(RECURSION_LIMIT)
    rows = []
    ratios = []
    for title, build in shapes:
        check_same_output(build)
        nodes, depth = graph_size(build(Ours))
        t = compare(build, nodes, repeats)
        ratio = t["micrograd"].total / t["ours"].total
        ratios.append(ratio)
        rows.append([
            title, nodes, depth,
            f"{t['ours'].forward:.0f}", f"{t['ours'].backward:.0f}", f"{t['ours'].total:.0f}",
            f"{t['micrograd'].forward:.0f}", f"{t['micrograd'].backward:.0f}", f"{t['micrograd'].total:.0f}",
            f"{ratio:.2f}",
        ])
    nodes, depth, fwd, bwd, theirs = big_chain(1 if args.quick else 3)
    rows.append([
        "chain ~1M nodes (ours only)", nodes, depth, f"{fwd:.0f}", f"{bwd:.0f}", f"{fwd + bwd:.0f}",
        "-", "-", theirs, "-",
    ])
    sys.setrecursionlimit(default_limit)
    headers = [
        "graph", "nodes", "depth", "ours fwd", "ours bwd", "ours total",
        "micrograd fwd", "micrograd bwd", "micrograd total", "ratio micrograd/ours",
    ]
    print(f"forward+backward, ns per node (median of {repeats} interleaved repetitions, GC off while timing)")
    print(f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}; "
          f"recursion limit raised to {RECURSION_LIMIT:,} for both engines "
          f"(default {default_limit:,}; micrograd's recursive sort needs it, ours does not)")
    print(tabulate(rows, headers=headers, disable_numparse=True, colalign=("left",) + ("right",) * 9))
    print(f"geometric-mean ratio micrograd/ours: {statistics.geometric_mean(ratios):.2f} (> 1: ours is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
