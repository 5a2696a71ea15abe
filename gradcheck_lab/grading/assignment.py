"""What is graded and how: the rubric and the configuration every worker receives.

>>> GradeConfig(cases=()).digest == GradeConfig(cases=()).digest
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property

from .. import __version__
from ..cases import Case
from ..submissions import Limits
from .model import GRADER_VERSION

__all__ = ["GradeConfig", "Rubric"]


@dataclass(frozen=True)
class Rubric:
    """How checks become points."""

    partial_credit: bool = True  #: a case earns the share of its checks that agree
    unsupported_credit: float = 0.0  #: share of a case's weight when it needs a missing op


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
    sandbox: bool = True  #: False runs submissions in the grader's process: trusted code only (benchmarks)

    @cached_property
    def digest(self) -> str:
        """A hash of the case set, the rubric and the limits: stored grades are redone when it changes."""
        cases = [
            [c.selector, c.program.digest, [sorted(p.items()) for p in c.points], c.weight, c.hidden,
             sorted(c.sample.items()), c.steps, c.lr]
            for c in self.cases
        ]
        blob = json.dumps([GRADER_VERSION, __version__, cases, asdict(self.rubric), asdict(self.limits),
                           self.samples, self.seed, self.probes, self.diagnose, self.html], sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()
