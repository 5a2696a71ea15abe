"""What ``diagnose`` and ``check --diagnose`` find in one implementation: the catalog codes
that explain its probe results (with evidence), the probes no code explains, and a
minimal counterexample. One search, shared by both commands and every report.

>>> from gradcheck_lab.diagnose import CATALOG
>>> found = find_bugs(CATALOG["grad-overwrite:add"].engine())
>>> found.codes, found.counterexample.source if found.counterexample else None
(['grad-overwrite:add'], 'L = x + x')
>>> sorted(found.to_json())
['counterexample', 'diagnosis', 'unexplained']
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..valuelike import ValueLike
from .counterexample import Counterexample
from .match import Diagnosis

__all__ = ["Findings", "find_bugs"]


@dataclass
class Findings:
    """The diagnosis of one implementation and its minimal counterexample (None: none found or not searched)."""

    diagnosis: Diagnosis
    counterexample: Counterexample | None = None

    @property
    def codes(self) -> list[str]:
        """The catalog codes, e.g. ``["grad-overwrite:add"]``."""
        return list(self.diagnosis.codes)

    @property
    def found(self) -> bool:
        """True when anything disagrees with the truth: a code, an unexplained probe, a counterexample."""
        return bool(self.diagnosis.codes or self.diagnosis.unexplained or self.counterexample)

    def to_json(self) -> dict[str, Any]:
        """``diagnosis`` (as :meth:`Diagnosis.to_json`), ``unexplained`` and ``counterexample``.

        >>> Findings(Diagnosis()).to_json()
        {'diagnosis': [], 'unexplained': [], 'counterexample': None}
        """
        example = self.counterexample
        return {
            "diagnosis": self.diagnosis.to_json(),
            "unexplained": [dict(e.__dict__) for e in self.diagnosis.unexplained],
            "counterexample": None if example is None else {**asdict(example), "case": example.as_case()},
        }


def find_bugs(value_class: type[ValueLike], *, counterexample: bool = True,
              cache_dir: str | Path | None = None) -> Findings:
    """Run the probes on ``value_class`` in this process (trusted code only), name its bugs
    and, if ``counterexample``, search a minimal disagreeing expression. What the
    implementation prints is swallowed: it is not ours to show. ``cache_dir``: where the
    catalog's predictions are kept between runs (computing them takes a few seconds)."""
    from ..executors import InProcessExecutor
    from .counterexample import counterexample_from, counterexample_of
    from .match import diagnose, observe_probes, warm_predictions

    if cache_dir is not None:
        warm_predictions(cache_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        diagnosis = diagnose(observe_probes(value_class))
        example = (counterexample_from(diagnosis) or counterexample_of(InProcessExecutor(value_class), diagnosis.codes)
                   if counterexample else None)
    return Findings(diagnosis, example)
