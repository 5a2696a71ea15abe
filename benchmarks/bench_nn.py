"""The nn checks' cost per submission, in process: a correct folder and every nn bug.

    python benchmarks/bench_nn.py             # in process (check-nn)
    python benchmarks/bench_nn.py --sandbox   # in the sandboxed child, as grading runs them

Writes the student folders (``check-nn --write-bugs``) to a temporary folder, checks each
once to warm the answer keys and the bugs' predictions (as a grading batch does once per
worker), then times each folder's checks and prints the codes found and the median. With
``--sandbox`` the time is what the nn checks add to a submission's grade: the child is
started (and the submission loaded) before the clock starts.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.commands.check_nn import write_bugs
from gradcheck_lab.nn import check_nn, in_process
from gradcheck_lab.nn.loading import load_names


def _sandboxed(folder: Path, keys: AnswerKeys) -> tuple[float, list[str]]:
    from gradcheck_lab.grading.nn import NN_NAMES, NNAssignment, grade_nn
    from gradcheck_lab.submissions import Limits, SandboxExecutor, SubmissionRef, isolation_problem, load_submission

    sub = load_submission(SubmissionRef(folder.name, folder), NN_NAMES)
    with SandboxExecutor(sub, Limits(unsafe_no_sandbox=bool(isolation_problem()))) as child:
        child.start()
        started = time.perf_counter()
        graded = grade_nn(child, NNAssignment(), keys)
        return time.perf_counter() - started, [d["code"] for d in graded.diagnosis]


def main() -> None:
    sandbox = "--sandbox" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_bugs(Path(tmp) / "bugs")
        keys = AnswerKeys(Path(tmp) / "keys")
        started = time.perf_counter()
        for folder in folders:
            check_nn(in_process(load_names(folder)), keys=keys)
        print(f"cold (answer keys, predictions): {time.perf_counter() - started:.2f} s for {len(folders)} folders")
        times = []
        for folder in folders:
            if sandbox:
                seconds, codes = _sandboxed(folder, keys)
            else:
                names = load_names(folder)
                t = time.perf_counter()
                codes = check_nn(in_process(names), keys=keys).codes
                seconds = time.perf_counter() - t
            times.append(seconds)
            print(f"{folder.name:28} {seconds * 1000:7.1f} ms  {', '.join(codes) or 'ok'}")
        print(f"median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms per submission")


if __name__ == "__main__":
    main()
