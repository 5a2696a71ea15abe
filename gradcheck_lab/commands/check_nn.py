"""``check-nn``: check a submission's ``nn.py`` (Neuron, Layer, MLP) and training loop, in process.

    python -m gradcheck_lab check-nn my_folder/            # engine.py + nn.py (or one file, or a notebook)
    python -m gradcheck_lab check-nn my_folder/ --html nn.html
    python -m gradcheck_lab check-nn --write-bugs DIR      # every nn bug as a student folder, and correct/

The code runs in this process: use it for your own code (``grade`` sandboxes students').
Each check's code runs under ``--time-limit``. Exit status: 0 when every check agrees, 1 when
one does not, 2 for usage or input errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run", "write_bugs"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from ..implementations import DEFAULT_TIME_LIMIT
    from ..nn import Activation, Loss

    p = sub.add_parser(
        "check-nn", help="check nn.py (Neuron, Layer, MLP) and the training loop of a submission, in process",
        description="Check a submission's nn.py and training loop: structure, forward, gradients, training.",
    )
    p.add_argument("path", metavar="PATH", nargs="?", help="a folder (engine.py + nn.py), a .py file or a notebook")
    p.add_argument("--steps", type=int, default=5, help="training steps compared with exact descent (default 5)")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate of those steps (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the starting parameters (default 0)")
    p.add_argument("--loss", choices=[x.value for x in Loss], default=Loss.MSE_MEAN.value,
                   help="what our loop minimises when the submission has no train() (default mse-mean)")
    p.add_argument("--activation", choices=[a.value for a in Activation],
                   help="the neurons' activation (default: read from the submission)")
    p.add_argument("--html", metavar="FILE",
                   help="also write an HTML report (sections, loss curves, one step explained)")
    p.add_argument("--explain", action="store_true",
                   help="also print one training step of MLP(2, [2, 1]) explained, the submission's numbers beside")
    p.add_argument("--no-cache", action="store_true", help="compute answer keys in memory only")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds the submission's code may run per check (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--write-bugs", metavar="DIR", help="write each nn bug as a student folder (engine.py + nn.py)")
    p.set_defaults(run=run)


def write_bugs(folder: Path) -> list[Path]:
    """Every nn bug with a fixture as a student folder under ``folder``, and ``correct/``."""
    from ..nn import NN_CATALOG
    from ..nn.template import write_submission

    written = [write_submission(folder / "correct")]
    written += [bug.write(folder / bug.code) for bug in NN_CATALOG.values() if bug.replacements]
    return written


def run(args: argparse.Namespace) -> int:
    from ..answer_keys import AnswerKeys, default_cache_dir
    from ..atomic import write_text
    from ..cli import Exit
    from ..errors import SubmissionError
    from ..implementations import TimeLimit, time_limit
    from ..nn import Activation, Loss, NNConfig, check_nn, in_process
    from ..nn.loading import load_names
    from ..report.html import page
    from ..report.nn import nn_html, nn_step_html, nn_step_text, nn_text

    if args.write_bugs:
        for path in write_bugs(Path(args.write_bugs)):
            print(path)
        return Exit.OK
    if not args.path:
        raise SubmissionError("check-nn needs a submission (a folder, a .py file or a notebook), or --write-bugs DIR")
    if args.steps < 1 or args.lr <= 0:
        raise SubmissionError("--steps must be at least 1 and --lr positive")
    try:
        with time_limit(args.time_limit, f"loading {args.path}"):
            names = load_names(args.path)
    except TimeLimit as exc:
        raise SubmissionError(str(exc)) from None
    config = NNConfig(steps=args.steps, lr=args.lr, seed=args.seed, loss=Loss(args.loss),
                      activation=Activation(args.activation) if args.activation else None)
    keys = AnswerKeys(None if args.no_cache else default_cache_dir())
    runner = in_process(names, args.time_limit)
    result = check_nn(runner, config, keys)
    sys.stdout.write(nn_text(result, args.path))
    if args.explain and result.network is not None:
        print("\nOne training step explained: MLP(2, [2, 1]) on one point, squared error\n")
        print(nn_step_text(result.network, lr=config.lr, seed=config.seed, keys=keys, run=runner))
    if args.html:
        body = nn_html(result, walkthrough=nn_step_html(result, config, keys, runner))
        write_text(Path(args.html), page(f"nn checks: {args.path}", body))
        print(f"wrote {args.html}")
    return Exit.OK if result.ok else Exit.DISCREPANCY
