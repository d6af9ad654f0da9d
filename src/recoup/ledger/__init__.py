"""The installment ledger: schedules, the disclosed rate, and the rules that age an account.

- ``schedule``: due dates and per-period principal and fee of a plan.
- ``apr``: the annualised rate a lender must disclose (12 x monthly IRR).
- ``allocation``: how one payment is spread over an installment's components.
- ``kernel``: the event-stepped rules (charges, payments, DPD, buckets), vectorised over
  accounts; the portfolio close and the single-account view both run it.

The rules are written out in ``docs/ledger-rules.md``.
"""
