"""Collection cases: when a case opens and closes, and the follow-up of promises to pay.

Pure computation over frames; the daily strategy run (:mod:`recoup.collection`) reads the
store, calls these functions and writes what they return.
"""

from recoup.cases.early_warning import early_warning_flags
from recoup.cases.followup import PROMISE_OUTCOMES, credit_payments, follow_up_promises
from recoup.cases.lifecycle import CaseChanges, CloseReason, OpenReason, case_changes

__all__ = [
    "PROMISE_OUTCOMES",
    "CaseChanges",
    "CloseReason",
    "OpenReason",
    "case_changes",
    "credit_payments",
    "early_warning_flags",
    "follow_up_promises",
]
