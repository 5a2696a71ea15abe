"""Name the bug: a catalog of known bugs as engine variants, probes that tell them apart,
and matching of a submission's probe results against every variant's predictions."""

from .catalog import CATALOG, Bug
from .match import Diagnosis, diagnose, observe_probes, run_probes
from .probes import PROBES, Probe

__all__ = ["CATALOG", "PROBES", "Bug", "Diagnosis", "Probe", "diagnose", "observe_probes", "run_probes"]
