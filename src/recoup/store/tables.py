"""The schema. Money is whole cents in BIGINT columns named ``*_cents``; dates are DATE.

Text ids from the lender's files (``account_id``, ``plan_id`` ...) are kept as they came and
are unique; integer surrogate keys (``*_key``) join the big tables cheaply in the close.
Every row the close writes points back to the batch run that wrote it (``run_id``).
Personal data (borrowers' names, contact points, the recipients of contacts and messages) is
``EncryptedText``: encrypted at rest, deterministically, with the data key (see ``crypto``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from recoup.store.crypto import EncryptedText

metadata = MetaData()

# SQLite only auto-numbers a column declared exactly INTEGER PRIMARY KEY.
_SERIAL_KEY = BigInteger().with_variant(Integer(), "sqlite")

products = Table(
    "products",
    metadata,
    Column("product_id", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("spec_json", Text, nullable=False),  # the validated product in the file's format
)

# The bucket table in force (from products.yaml, or the default when none was given).
buckets = Table(
    "buckets",
    metadata,
    Column("ordinal", Integer, primary_key=True),
    Column("name", String(32), nullable=False, unique=True),
    Column("min_dpd", Integer, nullable=False),
    Column("max_dpd", Integer, nullable=True),
)

borrowers = Table(
    "borrowers",
    metadata,
    Column("borrower_key", BigInteger, primary_key=True, autoincrement=False),
    Column("borrower_id", String(64), nullable=False, unique=True),
    Column("name", EncryptedText(200), nullable=False),
    Column("region", String(64), nullable=True),
    Column("timezone", String(64), nullable=True),
)

# Phones, emails and addresses of a borrower and of the people around the debt.
contact_points = Table(
    "contact_points",
    metadata,
    Column("contact_point_key", BigInteger, primary_key=True, autoincrement=False),
    Column("borrower_key", BigInteger, ForeignKey("borrowers.borrower_key"), nullable=False),
    Column("kind", String(16), nullable=False),  # phone | email | address
    Column("value", EncryptedText(400), nullable=False),
    Column("party", String(16), nullable=False),  # self | guarantor | third_party
    Column("contact_name", EncryptedText(200), nullable=True),
    # unverified | verified | wrong_number | disconnected | opted_out: contact outcomes move it
    Column("status", String(16), nullable=False, server_default="unverified"),
    Column("source", String(32), nullable=True),  # import, contact (found by a collector) ...
    Column("verified_on", Date, nullable=True),
    Column("status_changed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("borrower_key", "kind", "value", name="uq_contact_point"),
)

#: The condition of ``ix_accounts_in_arrears``; a query finds those accounts through the index
#: when its condition is this same text.
ACCOUNTS_IN_ARREARS = "overdue_cents > 0 OR dpd > 0"

accounts = Table(
    "accounts",
    metadata,
    Column("account_key", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", String(64), nullable=False, unique=True),
    Column("borrower_key", BigInteger, ForeignKey("borrowers.borrower_key"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("opened_on", Date, nullable=False),
    # Working state at the end of the last closed day (see account_states for history).
    Column("credit_balance_cents", BigInteger, nullable=False, default=0),
    Column("dpd", Integer, nullable=False, default=0),
    Column("bucket", String(32), nullable=False, default="M0"),
    Column("overdue_cents", BigInteger, nullable=False, default=0),
    # Principal not yet paid, over every plan started by the last closed day.
    Column("outstanding_principal_cents", BigInteger, nullable=False, server_default="0"),
    # The accounts in arrears, which every day's close reads (their charges accrue, their DPD
    # ages): about a tenth of a portfolio, found without reading the other nine tenths.
    Index(
        "ix_accounts_in_arrears",
        "account_key",
        postgresql_where=text(ACCOUNTS_IN_ARREARS),
        sqlite_where=text(ACCOUNTS_IN_ARREARS),
    ),
)

plans = Table(
    "plans",
    metadata,
    Column("plan_key", BigInteger, primary_key=True, autoincrement=False),
    Column("plan_id", String(64), nullable=False, unique=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("product_id", String(64), ForeignKey("products.product_id"), nullable=False),
    Column("principal_cents", BigInteger, nullable=False),
    Column("term", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    # The run that first aged this plan; NULL until a close has seen it.
    Index("ix_plans_account", "account_key"),
    Index("ix_plans_start_date", "start_date"),
)

# The schedule and, per component, what has been charged and paid up to the last closed day.
installments = Table(
    "installments",
    metadata,
    Column("plan_key", BigInteger, ForeignKey("plans.plan_key"), primary_key=True),
    Column("period", Integer, primary_key=True),
    Column("account_key", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("principal_cents", BigInteger, nullable=False),
    Column("fee_cents", BigInteger, nullable=False),
    Column("late_fee_cents", BigInteger, nullable=False, default=0),
    Column("penalty_cents", BigInteger, nullable=False, default=0),
    Column("paid_principal_cents", BigInteger, nullable=False, default=0),
    Column("paid_fee_cents", BigInteger, nullable=False, default=0),
    Column("paid_late_fee_cents", BigInteger, nullable=False, default=0),
    Column("paid_penalty_cents", BigInteger, nullable=False, default=0),
    # Taken off by adjustments (waivers, settlement discounts, restructures): never edits.
    Column("adjusted_principal_cents", BigInteger, nullable=False, server_default="0"),
    Column("adjusted_fee_cents", BigInteger, nullable=False, server_default="0"),
    Column("adjusted_late_fee_cents", BigInteger, nullable=False, server_default="0"),
    Column("adjusted_penalty_cents", BigInteger, nullable=False, server_default="0"),
    # True once nothing is unpaid. Only an adjustment giving back (a reinstatement) reopens it.
    Column("settled", Integer, nullable=False, default=0),
    Index("ix_installments_account", "account_key", "settled"),
    # The close finds the installments falling due in its days through this index.
    Index(
        "ix_installments_open_due",
        "due_date",
        postgresql_where=text("settled = 0"),
        sqlite_where=text("settled = 0"),
    ),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_key", BigInteger, primary_key=True, autoincrement=False),
    Column("payment_id", String(64), nullable=False, unique=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    # For a reversal: the payment it returns. For a reversed payment: the reversal's date.
    Column("reverses_payment_id", String(64), nullable=True),
    Column("reversed_on", Date, nullable=True),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    # The run that first aged the account with this row; NULL until a close has seen it.
    Index("ix_payments_account", "account_key", "paid_on"),
    Index("ix_payments_paid_on", "paid_on"),
)

batch_runs = Table(
    "batch_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # close | recompute | first_close
    Column("closed_from", Date, nullable=False),
    Column("closed_through", Date, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("accounts", BigInteger, nullable=False, default=0),
    Column("recomputed_accounts", BigInteger, nullable=False, default=0),
    Column("moves", BigInteger, nullable=False, default=0),
    Column("notes", Text, nullable=True),
    # The account keys a partition run covered (a first close or a full recompute).
    Column("first_account_key", BigInteger, nullable=True),
    Column("last_account_key", BigInteger, nullable=True),
    # The highest payment and plan keys the run had seen: rows above them came later.
    Column("max_payment_key", BigInteger, nullable=True),
    Column("max_plan_key", BigInteger, nullable=True),
)

# Late fees and penalty interest, one row per installment, kind and run (a penalty row covers
# the days accrued_from..accrued_through of that run); waivers are negative rows of kind waiver.
charges = Table(
    "charges",
    metadata,
    Column("charge_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("account_key", BigInteger, nullable=False),
    Column("plan_key", BigInteger, nullable=False),
    Column("period", Integer, nullable=False),
    Column("kind", String(24), nullable=False),  # late_fee | penalty_interest | waiver
    Column("amount_cents", BigInteger, nullable=False),
    Column("accrued_from", Date, nullable=False),
    Column("accrued_through", Date, nullable=False),
    Column("run_id", Integer, ForeignKey("batch_runs.run_id"), nullable=False),
    Index("ix_charges_account", "account_key"),
)

bucket_moves = Table(
    "bucket_moves",
    metadata,
    Column("move_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("account_key", BigInteger, nullable=False),
    Column("moved_on", Date, nullable=False),
    Column("from_bucket", String(32), nullable=False),
    Column("to_bucket", String(32), nullable=False),
    Column("dpd", Integer, nullable=False),
    Column("run_id", Integer, ForeignKey("batch_runs.run_id"), nullable=False),
    Index("ix_moves_account", "account_key", "moved_on"),
)

# The account's state at each month end and at each close's last day, when it changed.
account_states = Table(
    "account_states",
    metadata,
    Column("account_key", BigInteger, primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("dpd", Integer, nullable=False),
    Column("bucket", String(32), nullable=False),
    Column("overdue_principal_cents", BigInteger, nullable=False),
    Column("overdue_fee_cents", BigInteger, nullable=False),
    Column("overdue_late_fee_cents", BigInteger, nullable=False),
    Column("overdue_penalty_cents", BigInteger, nullable=False),
    Column("outstanding_principal_cents", BigInteger, nullable=False),
    Column("credit_balance_cents", BigInteger, nullable=False),
    Column("run_id", Integer, ForeignKey("batch_runs.run_id"), nullable=False),
    Index("ix_account_states_as_of", "as_of"),
)

# --------------------------------------------------------------------------- collection
# Cases, the strategy's actions, promises and allocation (issue 4). A case is the collection
# of one account from the day it became delinquent (or was flagged by early warning) until
# it is cured, paid off, settled, written off or recalled; an account has at most one open
# case (a partial unique index).

# Every strategy run and allocation run is a record; the rows it writes point back to it.
collection_runs = Table(
    "collection_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # strategy | allocation | cycle-<step>
    Column("as_of", Date, nullable=False),
    Column("strategy_id", String(64), nullable=True),
    Column("strategy_version", Integer, nullable=True),
    Column("inputs", Text, nullable=True),  # what else the run read, e.g. the teams file
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("summary", Text, nullable=True),  # counts, as JSON
)

strategy_versions = Table(
    "strategy_versions",
    metadata,
    Column("strategy_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("source", Text, nullable=False),  # the file as it was loaded
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("active", Integer, nullable=False, default=0),  # 1: the strategy the daily run uses
)

cases = Table(
    "cases",
    metadata,
    Column("case_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("opened_because", String(24), nullable=False),  # delinquent | early_warning
    Column("status", String(16), nullable=False),  # open | closed
    Column("closed_on", Date, nullable=True),
    # cured | paid_off | settled | written_off | recalled
    Column("closed_because", String(24), nullable=True),
    Column("strategy_id", String(64), nullable=True),
    Column("strategy_version", Integer, nullable=True),
    Column("segment", String(64), nullable=True),
    Column("path", String(64), nullable=True),
    # A path an event switched the case to (promise broken, unreachable), and the event.
    Column("path_override", String(64), nullable=True),
    Column("path_since", Date, nullable=True),  # the day the case started its current path
    Column("last_event", String(32), nullable=True),
    Column("last_event_on", Date, nullable=True),
    Column("dispute", Integer, nullable=False, default=0),
    Column("vulnerable", Integer, nullable=False, default=0),
    Column("last_contact_on", Date, nullable=True),  # last successful contact
    Column("owner", String(64), nullable=True),
    Column("owner_kind", String(16), nullable=True),  # collector | agency
    Column("team", String(64), nullable=True),
    Column("owned_since", Date, nullable=True),
    Column("last_progress_on", Date, nullable=True),  # last payment or promise
    Index("ix_cases_account", "account_key"),
    Index(
        "ux_cases_open_account",
        "account_key",
        unique=True,
        postgresql_where=text("status = 'open'"),
        sqlite_where=text("status = 'open'"),
    ),
    # A collector's or an agency's queue: their open cases.
    Index(
        "ix_cases_open_owner",
        "owner",
        "owner_kind",
        postgresql_where=text("status = 'open'"),
        sqlite_where=text("status = 'open'"),
    ),
)

case_events = Table(
    "case_events",
    metadata,
    Column("event_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("case_key", BigInteger, ForeignKey("cases.case_key"), nullable=False),
    Column("happened_on", Date, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("collection_runs.run_id"), nullable=True),
    Index("ix_case_events_case", "case_key", "happened_on"),
)

# The strategy run's actions: re-running a day replaces that day's planned actions.
actions = Table(
    "actions",
    metadata,
    Column("action_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("case_key", BigInteger, ForeignKey("cases.case_key"), nullable=False),
    Column("account_key", BigInteger, nullable=False),
    Column("planned_for", Date, nullable=False),
    Column("strategy_id", String(64), nullable=False),
    Column("strategy_version", Integer, nullable=False),
    Column("segment", String(64), nullable=False),
    Column("path", String(64), nullable=False),
    Column("step", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("template", String(128), nullable=False),
    Column("queue", String(64), nullable=True),
    Column("window_start", String(5), nullable=False),
    Column("window_end", String(5), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("test_id", String(64), nullable=True),
    Column("arm", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    # planned, then the compliance gate's word: allowed | blocked | rescheduled
    Column("status", String(16), nullable=False),
    Column("run_id", Integer, ForeignKey("collection_runs.run_id"), nullable=False),
    # When the gate judged the action would happen (UTC), and its stored decision.
    Column("planned_at", DateTime(timezone=True), nullable=True),
    Column("decision_key", BigInteger, nullable=True),
    UniqueConstraint("case_key", "planned_for", "step", name="ux_actions_case_day_step"),
    Index("ix_actions_day", "planned_for"),
)

promises = Table(
    "promises",
    metadata,
    Column("promise_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("case_key", BigInteger, ForeignKey("cases.case_key"), nullable=False),
    Column("account_key", BigInteger, nullable=False),
    Column("made_on", Date, nullable=False),
    Column("promised_for", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("grace_days", Integer, nullable=False),
    Column("made_by", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # open | kept | partly_kept | broken
    Column("paid_cents", BigInteger, nullable=False, default=0),
    Column("resolved_on", Date, nullable=True),
    # How it was taken: call | sms | email | letter | visit | app | other (null: not recorded).
    Column("channel", String(16), nullable=True),
    Index("ix_promises_case", "case_key"),
    Index("ix_promises_status", "status", "promised_for"),
)

# A promise's installments (issue 7), numbered in date order; the promise row above is the
# whole: its amount is their sum, its promised_for the last one's date.
promise_installments = Table(
    "promise_installments",
    metadata,
    Column("promise_key", BigInteger, ForeignKey("promises.promise_key"), primary_key=True),
    Column("number", Integer, primary_key=True),  # 1, 2, ... in date order
    Column("due_on", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False, default=0),  # towards it, at most amount
    # open | kept | partly_kept | broken | cancelled (an earlier installment broke)
    Column("status", String(16), nullable=False),
    Column("resolved_on", Date, nullable=True),
)

# The ownership history: every decision of who holds a case from a day on, whoever made it.
# The nightly allocation writes one per case and run day (``run_id``); a team lead's
# reassignment writes one dated the ledger's open day (``decided_by``). ``seq`` orders a
# case's decisions of one day: a lead's, in the order made, come before the nightly run's,
# which is made after the day's close. The owner from a day on is its last decision.
allocations = Table(
    "allocations",
    metadata,
    Column("case_key", BigInteger, ForeignKey("cases.case_key"), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(64), nullable=True),
    Column("owner_kind", String(16), nullable=True),
    Column("team", String(64), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("commission_ppm", BigInteger, nullable=True),  # agency commission, parts per million
    # The owner before this allocation, so that re-running the day starts from the same place.
    Column("previous_owner", String(64), nullable=True),
    Column("previous_owner_kind", String(16), nullable=True),
    Column("previous_team", String(64), nullable=True),
    Column("previous_owned_since", Date, nullable=True),
    Column("run_id", Integer, ForeignKey("collection_runs.run_id"), nullable=True),
    Column("decided_by", String(64), nullable=True),  # the user, for a person's decision
    CheckConstraint(
        "(run_id IS NOT NULL AND decided_by IS NULL) "
        "OR (run_id IS NULL AND decided_by IS NOT NULL)",
        name="ck_allocations_run_or_person",
    ),
)

# Payments credited to whoever owned the case on the day it was paid.
payment_credits = Table(
    "payment_credits",
    metadata,
    Column("payment_key", BigInteger, ForeignKey("payments.payment_key"), primary_key=True),
    Column("case_key", BigInteger, ForeignKey("cases.case_key"), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("owner_kind", String(16), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("credited_on", Date, nullable=False),
    Index("ix_payment_credits_owner", "owner", "credited_on"),
)


# --- Contact (issue 5) -------------------------------------------------------------------
# Every contact the gate judged, every attempt and outcome, every message sent, kept with its
# retention date (``retain_until``; NULL with ``until_settled`` = kept until the debt is settled).

# A borrower's standing flags (dispute, bankruptcy, cease ...): the gate's holds. A flag is
# cleared, never deleted, so the history of holds stays readable.
borrower_flags = Table(
    "borrower_flags",
    metadata,
    Column("flag_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("borrower_key", BigInteger, ForeignKey("borrowers.borrower_key"), nullable=False),
    Column("flag", String(32), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("set_by", String(64), nullable=True),
    Column("note", Text, nullable=True),
    Column("cleared_at", DateTime(timezone=True), nullable=True),
    Column("cleared_by", String(64), nullable=True),
    Index(
        "ux_borrower_flags_active",
        "borrower_key",
        "flag",
        unique=True,
        postgresql_where=text("cleared_at IS NULL"),
        sqlite_where=text("cleared_at IS NULL"),
    ),
)

contact_decisions = Table(
    "contact_decisions",
    metadata,
    Column("decision_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),  # strategy | queue | manual | outbox
    Column("account_key", BigInteger, nullable=False),
    Column("case_key", BigInteger, nullable=True),
    Column("action_key", BigInteger, nullable=True),
    Column("channel", String(16), nullable=False),
    Column("party", String(16), nullable=False),
    Column("to_value", EncryptedText(400), nullable=False),
    Column("contact_at", DateTime(timezone=True), nullable=False),
    Column("profile", String(16), nullable=False),
    Column("profile_version", String(16), nullable=False),
    Column("allowed", Integer, nullable=False),
    Column("violations", Text, nullable=False),  # JSON list of {rule, message}
    Column("next_allowed_at", DateTime(timezone=True), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("retain_until", Date, nullable=True),
    Index("ix_contact_decisions_account", "account_key", "contact_at"),
    Index("ix_contact_decisions_decided", "decided_at"),  # today's refusals, for /metrics
)

# Attempts and their outcomes (催记): the history the attempt caps count.
contact_attempts = Table(
    "contact_attempts",
    metadata,
    Column("attempt_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    # A caller-chosen key that makes recording the same outcome twice harmless.
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("account_key", BigInteger, nullable=False),
    Column("borrower_key", BigInteger, nullable=False),
    Column("case_key", BigInteger, nullable=True),
    Column("contact_point_key", BigInteger, nullable=True),
    Column("channel", String(16), nullable=False),
    Column("party", String(16), nullable=False),
    Column("to_value", EncryptedText(400), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("collector", String(64), nullable=True),
    Column("note", Text, nullable=True),
    Column("decision_key", BigInteger, nullable=True),
    Column("message_key", BigInteger, nullable=True),
    Column("promise_key", BigInteger, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("retain_until", Date, nullable=True),
    Column("until_settled", Integer, nullable=False, server_default="0"),
    Index("ix_contact_attempts_borrower", "borrower_key", "at"),
    Index("ix_contact_attempts_account", "account_key", "at"),
)

# The outbox: every message and task, sent at most once (``idempotency_key``).
messages = Table(
    "messages",
    metadata,
    Column("message_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("account_key", BigInteger, nullable=False),
    Column("case_key", BigInteger, nullable=True),
    Column("action_key", BigInteger, nullable=True),
    Column("channel", String(16), nullable=False),
    Column("party", String(16), nullable=False),
    Column("to_value", EncryptedText(400), nullable=False),
    Column("template", String(128), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    # queued | blocked | sending | sent | failed | delivered | undeliverable
    Column("status", String(16), nullable=False),
    Column("decision_key", BigInteger, nullable=True),
    Column("provider_id", String(128), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("send_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("retain_until", Date, nullable=True),
    Index("ix_messages_status", "status", "send_at"),
    Index("ix_messages_provider", "provider_id"),
)

# Delivery-status callbacks and inbound replies from the gateways; a duplicate callback is
# the same (provider_id, status) and is kept once.
delivery_events = Table(
    "delivery_events",
    metadata,
    Column("event_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("provider_id", String(128), nullable=False),
    Column("status", String(32), nullable=False),  # delivered | failed | ... | inbound
    Column("message_key", BigInteger, nullable=True),
    Column("from_value", EncryptedText(400), nullable=True),
    Column("text", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("opt_out", Integer, nullable=False, server_default="0"),
    UniqueConstraint("provider_id", "status", name="ux_delivery_events_provider_status"),
)


# --- Risk models (issue 6) -------------------------------------------------------------
# Every trained model is a row: its artifact (the model as JSON text: the scorecard's bins and
# points, or the booster's text), the fingerprint of the data it learnt from, its features,
# parameters, metrics and library versions. One champion per kind scores the book.
risk_models = Table(
    "risk_models",
    metadata,
    Column("model_id", String(80), primary_key=True),
    Column("kind", String(24), nullable=False),  # early_warning | collection | custom
    Column("family", String(16), nullable=False),  # scorecard | lightgbm
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # candidate | champion | retired
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("as_of", Date, nullable=True),  # the last day of history it learnt from
    Column("data_fingerprint", String(64), nullable=False),
    Column("features", Text, nullable=False),  # JSON list
    Column("params", Text, nullable=False),  # JSON
    Column("metrics", Text, nullable=False),  # JSON: per split, and the reference sample
    Column("libraries", Text, nullable=False),  # JSON: library versions
    Column("artifact", Text, nullable=False),  # JSON: the model itself
    Column("status_changed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("kind", "family", "version", name="ux_risk_models_version"),
)

# A score per account, kind and day, with the model that produced it.
risk_scores = Table(
    "risk_scores",
    metadata,
    Column("account_key", BigInteger, primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("kind", String(24), primary_key=True),
    Column("model_id", String(80), ForeignKey("risk_models.model_id"), nullable=False),
    Column("score", Integer, nullable=True),  # scorecard points (higher: safer)
    Column("probability", Float, nullable=False),  # P(bad), calibrated; not money
    Column("grade", String(8), nullable=False),
    Column("reasons", Text, nullable=False),  # JSON: the top 3 reason codes
    Column("run_id", Integer, ForeignKey("collection_runs.run_id"), nullable=False),
    Index("ix_risk_scores_as_of", "as_of", "kind"),
)


# --- Arrangements (issue 7) --------------------------------------------------------------
# Every ask for a concession (a waiver, a settlement, a plan) and its approval record: granted
# at once within the requester's authority, or a request that approvers decide. Steps are
# appended, never edited.
arrangement_requests = Table(
    "arrangement_requests",
    metadata,
    Column("request_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("kind", String(16), nullable=False),  # promise | plan | settlement | waiver
    Column("bucket", String(32), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),  # what the lender gives up
    Column("balance_cents", BigInteger, nullable=False),
    Column("share", String(40), nullable=True),  # a Decimal, as text
    Column("term_months", Integer, nullable=True),
    Column("detail", Text, nullable=False),  # JSON: the component waived, the offer ...
    Column("requested_by", String(64), nullable=False),
    Column("requester_role", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # pending | approved | rejected | expired | granted
    Column("approvals_needed", Integer, nullable=False),
    Column("matrix_version", String(16), nullable=False),
    Column("verdict_allowed", Integer, nullable=False),  # the requester's own authority
    Column("verdict_rule", String(80), nullable=False),
    Column("verdict_reason", Text, nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index("ix_arrangement_requests_status", "status", "created_at"),
    Index("ix_arrangement_requests_account", "account_key"),
)

arrangement_steps = Table(
    "arrangement_steps",
    metadata,
    Column("step_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column(
        "request_key",
        BigInteger,
        ForeignKey("arrangement_requests.request_key"),
        nullable=False,
    ),
    Column("actor", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(16), nullable=False),  # grant | approve | reject
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_arrangement_steps_request", "request_key"),
)

# Arrangements in force: a posted waiver, an accepted settlement, a signed repayment plan.
arrangements = Table(
    "arrangements",
    metadata,
    Column("arrangement_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("kind", String(16), nullable=False),  # waiver | settlement | plan
    # waiver: posted. settlement: accepted | completed | lapsed. plan: active | completed |
    # broken | reverted
    Column("status", String(16), nullable=False),
    Column("request_key", BigInteger, ForeignKey("arrangement_requests.request_key")),
    Column("effective_on", Date, nullable=False),  # signed, accepted or posted: the open day
    Column("expires_on", Date, nullable=True),  # a settlement's last day to pay
    Column("amount_cents", BigInteger, nullable=False),  # to pay (settlement, plan) or waived
    Column("plan_key", BigInteger, ForeignKey("plans.plan_key"), nullable=True),  # a plan's
    # A plan that re-ages only after its first payments: DPD counts from `aged_from` until
    # its installments due by `re_age_through` are paid (docs/ledger-rules.md, Re-ageing).
    Column("aged_from", Date, nullable=True),
    Column("re_age_through", Date, nullable=True),
    Column("terms", Text, nullable=False),  # JSON: the agreed terms, as shown to the borrower
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_on", Date, nullable=True),  # the day the status last changed
    Column("status_reason", Text, nullable=True),
    Index("ix_arrangements_account", "account_key"),
    Index("ix_arrangements_status", "kind", "status"),
)

# Non-cash ledger entries (docs/ledger-rules.md, "Adjustments"), applied by the close.
adjustments = Table(
    "adjustments",
    metadata,
    Column("adjustment_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("plan_key", BigInteger, ForeignKey("plans.plan_key"), nullable=True),
    Column("component", String(16), nullable=False),
    Column("amount_cents", BigInteger, nullable=True),  # NULL: all of it
    Column("kind", String(16), nullable=False),  # waiver | settlement | restructure | ...
    Column("arrangement_key", BigInteger, ForeignKey("arrangements.arrangement_key")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # What the installments took, written by the close that applied it.
    Column("applied_cents", BigInteger, nullable=True),
    Index("ix_adjustments_account", "account_key", "effective_on"),
    Index("ix_adjustments_effective_on", "effective_on"),
)

# The workbench's users (recoup.web): a role, and for collectors and agency collectors the
# owner id the allocation gives their cases (cases.owner), which limits what they may read.
users = Table(
    "users",
    metadata,
    Column("user_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("owner_id", String(64), nullable=True),  # C001 (collector) or an agency's id
    Column("password_hash", String(256), nullable=False),  # Argon2id
    Column("active", Integer, nullable=False, server_default="1"),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Bearer tokens of the API and session cookies of the web app; only their SHA-256 is kept.
user_tokens = Table(
    "user_tokens",
    metadata,
    Column("token_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("user_key", BigInteger, ForeignKey("users.user_key"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # api | session
    Column("csrf_token", String(64), nullable=True),  # a session's form token
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Every change and every reveal of personal data, hash-chained: each entry's hash covers the
# previous entry's hash, so an edited or deleted entry breaks the chain (recoup audit verify).
# Its MAC (HMAC-SHA-256 under the audit key, which is not in the store) covers its sequence
# number and hash, so the hashes cannot be recomputed after an edit; entries written before
# the key (migration 0013) have none (see recoup.web.audit).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(128), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64), nullable=True),
    Index("ix_audit_log_actor", "actor", "at"),
    Index("ix_audit_log_target", "target"),
)

# The audit log's seal, one row: the chain's head and length as of the last append, MAC'd
# with the audit key and rewritten with every entry, so deleting the last entries shows. An
# append that found the seal missing, forged or not at the log's end records it here
# (broken_at, broken_reason) for good.
audit_seal = Table(
    "audit_seal",
    metadata,
    Column("seal_key", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("unkeyed_through", BigInteger, nullable=False),  # the last entry without a MAC
    Column("broken_at", BigInteger, nullable=True),
    Column("broken_reason", Text, nullable=True),
    Column("mac", String(64), nullable=False),
    CheckConstraint("seal_key = 1", name="ck_audit_seal_one_row"),
)


# --- Complaints (issue 9) ----------------------------------------------------------------
# A borrower's complaint (投诉), as received: about contact pressure, conduct, the amount, their
# data or anything else; optionally about one contact attempt, which may later be purged with
# its retention (the complaint stays, pointing nowhere). Recording is idempotent by key; a
# complaint is resolved once. Its description and resolution note are personal text.
complaints = Table(
    "complaints",
    metadata,
    Column("complaint_key", _SERIAL_KEY, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("account_key", BigInteger, ForeignKey("accounts.account_key"), nullable=False),
    Column("case_key", BigInteger, ForeignKey("cases.case_key"), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # call | sms | email | app_push | voicemail | letter | field_visit | web | branch |
    # regulator | other: the way the complaint came in
    Column("channel", String(16), nullable=False),
    Column(
        "attempt_key",
        BigInteger,
        ForeignKey("contact_attempts.attempt_key", ondelete="SET NULL"),
        nullable=True,
    ),
    # contact_pressure | conduct | amount_disputed | data_privacy | other
    Column("category", String(24), nullable=False),
    Column("description", EncryptedText(2000), nullable=True),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("resolved_on", Date, nullable=True),
    # upheld | partly_upheld | not_upheld | withdrawn
    Column("resolution", String(16), nullable=True),
    Column("resolution_note", EncryptedText(2000), nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_complaints_account", "account_key", "received_at"),
    Index("ix_complaints_received", "received_at"),
    Index("ix_complaints_status", "status", "received_at"),
)
