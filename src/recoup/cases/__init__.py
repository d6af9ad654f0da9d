"""Collection cases: when a case opens and closes, and the follow-up of promises to pay
(in one or more installments).

Pure computation over frames; the daily strategy run (:mod:`recoup.collection`) reads the
store, calls these functions and writes what they return.
"""

from recoup.cases.early_warning import early_warning_flags
from recoup.cases.followup import (
    INSTALLMENT_SCHEMA,
    INSTALLMENT_STATUSES,
    MAX_INSTALLMENTS,
    PROMISE_OUTCOMES,
    PromiseChannel,
    PromiseInstallment,
    PromiseStanding,
    credit_payments,
    follow_up_installments,
    follow_up_promises,
    owners_by_day,
    ownership_spans,
    promise_installments,
)
from recoup.cases.lifecycle import CaseChanges, CloseReason, OpenReason, case_changes

__all__ = [
    "INSTALLMENT_SCHEMA",
    "INSTALLMENT_STATUSES",
    "MAX_INSTALLMENTS",
    "PROMISE_OUTCOMES",
    "CaseChanges",
    "CloseReason",
    "OpenReason",
    "PromiseChannel",
    "PromiseInstallment",
    "PromiseStanding",
    "case_changes",
    "credit_payments",
    "early_warning_flags",
    "follow_up_installments",
    "follow_up_promises",
    "owners_by_day",
    "ownership_spans",
    "promise_installments",
]
