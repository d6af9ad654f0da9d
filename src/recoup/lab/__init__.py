"""The simulation lab: test a collection strategy on simulated borrowers before using it.

``run_lab(strategy_paths, accounts, days, seeds)`` runs the production daily cycle
(:func:`recoup.collection.cycle.run_cycle`) day by day on a simulated portfolio whose
borrowers respond to contact (:mod:`recoup.simulator.response`), once per strategy on the
same borrowers, and reports recovery, cures, contacts and cost, complaints, compliance
blocks and collector utilisation with confidence intervals over seeds
(:mod:`recoup.lab.report`). ``recoup lab`` is its command; docs/lab.md explains it.
"""

from recoup.lab.report import Estimate, LabReport, StrategyResult, estimate
from recoup.lab.run import DEFAULT_START, UNIT_COST_YUAN, LabRefused, MemorySender, run_lab

__all__ = [
    "DEFAULT_START",
    "UNIT_COST_YUAN",
    "Estimate",
    "LabRefused",
    "LabReport",
    "MemorySender",
    "StrategyResult",
    "estimate",
    "run_lab",
]
