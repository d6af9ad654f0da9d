"""Arrangements posted through the ledger on a real store (SQLite and PostgreSQL): the ledger
before and after a waiver, a settlement and a repayment plan, and after a plan breaks.

Every test ends by checking the stored ledger two other ways: a full recompute (every account
replayed from its first plan, adjustments included) must leave every installment as the
incremental closes left it, and the single-account view (the same kernel on one account)
must agree with the stored account state.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from recoup.arrangements import ArrangementKind, Ask, Granted, default_authority
from recoup.arrangements.plans import ChargeTreatment, PlanRules, PlanTerms, ReAge, propose_plan
from recoup.close import close_through, recompute_all
from recoup.collection.arrangements import AccountOwed, open_request, owed_now
from recoup.collection.postings import (
    PostingRefused,
    accept_settlement,
    judge_arrangements,
    post_waiver,
    sign_plan,
)
from recoup.ledger.account_view import view_account
from recoup.store import tables as t
from recoup.store.account_reads import load_account, stored_account_view
from recoup.store.bulk import read_frame
from recoup.store.repository import load_catalog_from_store
from tests.integration.test_collection import FIRST_DUE, PRODUCT, _payment, book  # noqa: F401
from tests.oracle import OraclePayment, round_half_up

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
DAY = FIRST_DUE + timedelta(days=40)  # A1 and A3 are 40 days past due (M2)
MATRIX = default_authority()


def _owed(store: sa.Engine, account_id: str) -> AccountOwed:
    with store.connect() as conn:
        return owed_now(conn, account_id)


def _installments(store: sa.Engine, account_id: str) -> pl.DataFrame:
    i, p, a = t.installments, t.plans, t.accounts
    with store.connect() as conn:
        return read_frame(
            conn,
            sa.select(p.c.plan_id, i)
            .join(p, p.c.plan_key == i.c.plan_key)
            .join(a, a.c.account_key == i.c.account_key)
            .where(a.c.account_id == account_id),
            {
                "plan_id": pl.String,
                **{c.name: pl.Date if c.name == "due_date" else pl.Int64 for c in i.columns},
            },
        ).sort("plan_id", "period")


def _unpaid(rows: pl.DataFrame, component: str) -> int:
    charged = {"principal": "principal", "fee": "fee", "late_fee": "late_fee"}.get(
        component, "penalty"
    )
    return int(
        (
            rows[f"{charged}_cents"]
            - rows[f"paid_{charged}_cents"]
            - rows[f"adjusted_{charged}_cents"]
        ).sum()
    )


def _account(store: sa.Engine, account_id: str) -> dict[str, object]:
    with store.connect() as conn:
        row = conn.execute(sa.select(t.accounts).where(t.accounts.c.account_id == account_id))
        return dict(row.mappings().one())


def _adjustments(store: sa.Engine) -> pl.DataFrame:
    adj = t.adjustments
    with store.connect() as conn:
        return read_frame(
            conn,
            sa.select(
                adj.c.adjustment_key,
                adj.c.kind,
                adj.c.component,
                adj.c.amount_cents,
                adj.c.applied_cents,
                adj.c.plan_key,
                adj.c.effective_on,
            ),
            {
                "adjustment_key": pl.Int64,
                "kind": pl.String,
                "component": pl.String,
                "amount_cents": pl.Int64,
                "applied_cents": pl.Int64,
                "plan_key": pl.Int64,
                "effective_on": pl.Date,
            },
        ).sort("adjustment_key")


def _assert_replays_agree(store: sa.Engine, accounts: tuple[str, ...] = ("A1", "A2", "A3")) -> None:
    """The incremental closes, a full recompute and the single-account view agree."""
    before = {a: _installments(store, a) for a in accounts}
    states = {a: _account(store, a) for a in accounts}
    recompute_all(store, partition_accounts=2)
    for account_id in accounts:
        assert _installments(store, account_id).equals(before[account_id]), account_id
        assert _account(store, account_id) == states[account_id], account_id
        with store.connect() as conn:
            stored = load_account(conn, account_id)
            catalog = load_catalog_from_store(conn)
            as_of = conn.execute(sa.select(sa.func.max(t.batch_runs.c.closed_through))).scalar()
        view = view_account(
            stored.account_key,
            account_id,
            stored.currency,
            stored.installments,
            stored.payments,
            catalog.products,
            date.fromisoformat(str(as_of)),
            catalog.buckets,
            adjustments=stored.adjustments,
            reaging=stored.reaging,
        )
        with store.connect() as conn:  # the workbench's read of the stored ledger
            stored_view = stored_account_view(conn, account_id, date.fromisoformat(str(as_of)))
        assert stored_view.to_json() == view.to_json(), account_id
        assert view.state["dpd"] == states[account_id]["dpd"]
        assert view.state["overdue_cents"] == states[account_id]["overdue_cents"]
        assert view.state["credit_balance_cents"] == states[account_id]["credit_balance_cents"]
        assert (
            view.state["outstanding_principal_cents"]
            == states[account_id]["outstanding_principal_cents"]
        )


def _penalty_charged_in_last_run(store: sa.Engine, account_id: str) -> int:
    c, a, r = t.charges, t.accounts, t.batch_runs
    with store.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(r.c.run_id))).scalar_one()
        return int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(c.c.amount_cents), 0))
                .join(a, a.c.account_key == c.c.account_key)
                .where(
                    a.c.account_id == account_id,
                    c.c.run_id == last,
                    c.c.kind == "penalty_interest",
                )
            ).scalar_one()
        )


# --------------------------------------------------------------------------- waivers


def _grant_waiver(store: sa.Engine, account_id: str, cents: int, expires: date) -> int:
    with store.begin() as conn:
        account = owed_now(conn, account_id)
        ask = Ask(
            ArrangementKind.WAIVER,
            account.bucket,
            cents,
            account.owed.total,
            share=Decimal(cents) / Decimal(account.owed.penalty),
        )
        detail = {
            "component": "penalty",
            "amount": f"{cents / 100:.2f}",
            "expires_on": expires.isoformat(),
        }
        key, outcome = open_request(conn, MATRIX, account, ask, detail, "c-li", "manager", NOW)
        assert isinstance(outcome, Granted)
    return key


def test_waiver__takes_exactly_its_amount_off_the_penalty_from_the_next_day(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, DAY)
    before = _owed(book, "A1")
    waived = before.owed.penalty // 2 + 1  # an odd cent: the split is exact, not rounded
    key = _grant_waiver(book, "A1", waived, DAY + timedelta(days=10))
    with book.begin() as conn:
        post_waiver(conn, key, "c-li", NOW)
    with book.begin() as conn, pytest.raises(PostingRefused, match="already carried out"):
        post_waiver(conn, key, "c-li", NOW)

    close_through(book, DAY + timedelta(days=1))
    after = _owed(book, "A1")
    accrued = _penalty_charged_in_last_run(book, "A1")
    assert accrued > 0  # A1 is still overdue: the day's penalty accrues as before
    assert after.owed.penalty == before.owed.penalty + accrued - waived
    assert after.owed.late_fee == before.owed.late_fee  # other components untouched
    assert after.owed.principal == before.owed.principal
    rows = _installments(book, "A1")
    assert int(rows["adjusted_penalty_cents"].sum()) == waived
    assert int(rows["penalty_cents"].sum()) == before.owed.penalty + accrued  # charged: no edit
    adjustments = _adjustments(book)
    assert adjustments["applied_cents"].to_list() == [waived]
    assert adjustments["effective_on"].to_list() == [DAY + timedelta(days=1)]
    _assert_replays_agree(book)


def test_waiver__an_expired_waiver_is_not_posted(book: sa.Engine) -> None:  # noqa: F811
    close_through(book, DAY)
    key = _grant_waiver(book, "A1", 100, DAY)  # expires on the last closed day
    with book.begin() as conn, pytest.raises(PostingRefused, match="expired on"):
        post_waiver(conn, key, "c-li", NOW)
    assert _adjustments(book).is_empty()


# --------------------------------------------------------------------------- settlements


def _accepted_settlement(
    store: sa.Engine, account_id: str, discount: str, expires: date, installments: int = 1
) -> int:
    from recoup.arrangements.settlements import settlement_offer

    with store.begin() as conn:
        account = owed_now(conn, account_id)
        offer = settlement_offer(
            account.owed.total, Decimal(discount), expires, installments=installments
        )
        ask = Ask(
            ArrangementKind.SETTLEMENT, account.bucket, offer.discount_cents, account.owed.total
        )
        detail = {
            "pay": f"{offer.amount_cents / 100:.2f}",
            "discount": f"{offer.discount_cents / 100:.2f}",
            "payments": [
                {"due_date": p.due_date.isoformat(), "amount": f"{p.amount_cents / 100:.2f}"}
                for p in offer.payments
            ],
            "expires_on": expires.isoformat(),
        }
        key, outcome = open_request(conn, MATRIX, account, ask, detail, "m-zhao", "manager", NOW)
        assert isinstance(outcome, Granted)
        accept_settlement(conn, key, "m-zhao", NOW)
        return offer.amount_cents


def test_settlement__paid_in_full_writes_off_the_rest_and_the_account_owes_nothing(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    close_through(book, DAY)
    before = _owed(book, "A1")
    to_pay = _accepted_settlement(book, "A1", "0.2", DAY + timedelta(days=10))
    assert to_pay < before.owed.total
    pay_day = DAY + timedelta(days=1)
    _payment(book, tmp_path, OraclePayment("S1", to_pay, pay_day), 1)
    close_through(book, pay_day)
    owed_then = _owed(book, "A1").owed.total
    credit_then = int(_account(book, "A1")["credit_balance_cents"])  # type: ignore[call-overload]
    with book.begin() as conn:
        judged = judge_arrangements(conn, pay_day, NOW)
    assert judged.settlements_completed == 1
    close_through(book, pay_day + timedelta(days=1))

    state = _account(book, "A1")
    assert (state["dpd"], state["overdue_cents"], state["outstanding_principal_cents"]) == (0, 0, 0)
    assert state["credit_balance_cents"] == 0  # the credit paid the installments not yet due
    rows = _installments(book, "A1")
    assert rows["settled"].to_list() == [1] * rows.height
    written_off = _adjustments(book).filter(pl.col("kind") == "settlement")
    assert int(written_off["applied_cents"].sum()) == owed_then - credit_then
    # Cash received is exactly the settlement; charged = paid + written off, to the cent.
    paid = sum(
        int(rows[f"paid_{c}_cents"].sum()) for c in ("principal", "fee", "late_fee", "penalty")
    )
    assert paid == to_pay
    with book.begin() as conn:  # judged again: nothing more is posted
        assert judge_arrangements(conn, pay_day + timedelta(days=1), NOW).settlements_completed == 0
    _assert_replays_agree(book)


def test_settlement__not_paid_by_its_last_day_lapses_and_nothing_is_written_off(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    close_through(book, DAY)
    last_day = DAY + timedelta(days=3)
    to_pay = _accepted_settlement(book, "A3", "0.3", last_day)
    _payment(book, tmp_path, OraclePayment("S3", to_pay - 1, DAY + timedelta(days=2)), 3)
    for day in range(1, 5):
        close_through(book, DAY + timedelta(days=day))
        with book.begin() as conn:
            judged = judge_arrangements(conn, DAY + timedelta(days=day), NOW)
        assert judged.settlements_completed == 0  # one cent short
    assert judged.settlements_lapsed == 1  # the day after its last day
    assert _adjustments(book).is_empty()
    with book.connect() as conn:
        status = conn.execute(sa.select(t.arrangements.c.status)).scalar_one()
    assert status == "lapsed"


def test_settlement__a_short_plan_lapses_when_its_first_payment_falls_short(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    close_through(book, DAY)
    first_due = DAY + timedelta(days=2)
    _accepted_settlement(book, "A3", "0.3", first_due, installments=3)
    with book.connect() as conn:
        terms = conn.execute(sa.select(t.arrangements.c.terms)).scalar_one()
    first = int(Decimal(json.loads(terms)["payments"][0]["amount"]) * 100)
    _payment(book, tmp_path, OraclePayment("S3", first - 1, first_due), 3)
    outcomes = []
    for day in range(1, 4):
        close_through(book, DAY + timedelta(days=day))
        with book.begin() as conn:
            outcomes.append(judge_arrangements(conn, DAY + timedelta(days=day), NOW))
    assert [o.settlements_lapsed for o in outcomes] == [0, 0, 1]  # the day after it was due
    with book.connect() as conn:
        status, reason = conn.execute(
            sa.select(t.arrangements.c.status, t.arrangements.c.status_reason)
        ).one()
    assert status == "lapsed" and str(first_due) in reason
    assert _adjustments(book).is_empty()


# --------------------------------------------------------------------------- plans


def _sign(store: sa.Engine, account_id: str, term: int, on_break: str, down: int = 0) -> int:
    with store.begin() as conn:
        account = owed_now(conn, account_id)
        terms = PlanTerms(
            term_months=term,
            start=account.as_of + timedelta(days=30),
            down_payment_cents=down,
            penalty=ChargeTreatment.WAIVE,
            late_fee=ChargeTreatment.FREEZE,
        )
        proposal = propose_plan(account.owed, terms, PlanRules())
        signed = sign_plan(conn, account, proposal, by="c-li", now=NOW, on_break=on_break)
        return signed.arrangement_key


def _flags(store: sa.Engine) -> list[tuple[int, object]]:
    f = t.borrower_flags
    with store.connect() as conn:
        return [
            (int(k), cleared)
            for k, cleared in conn.execute(
                sa.select(f.c.borrower_key, f.c.cleared_at).where(f.c.flag == "repayment_plan")
            )
        ]


def test_plan__signing_moves_everything_owed_into_the_new_plan_and_re_ages_the_account(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, DAY)
    before = _owed(book, "A1")
    assert _account(book, "A1")["dpd"] == 40
    _sign(book, "A1", term=6, on_break="resume", down=10_000)
    assert [cleared for _, cleared in _flags(book)] == [None]  # collection is held
    close_through(book, DAY + timedelta(days=1))

    rows = _installments(book, "A1")
    old, new = rows.filter(pl.col("plan_id") == "P1"), rows.filter(pl.col("plan_id") != "P1")
    assert old["settled"].to_list() == [1] * old.height  # closed by the restructure entry
    assert int(old["paid_principal_cents"].sum()) == 0  # nothing was paid: no cash entry
    waived = before.owed.penalty
    moved = before.owed.total - waived
    # The new plan carries exactly what moved (0% plan: no interest), frozen late fee last.
    assert int((new["principal_cents"] + new["fee_cents"]).sum()) == moved
    assert int(new["fee_cents"][-1]) >= before.owed.late_fee
    assert new["due_date"][0] == DAY + timedelta(days=1)  # the down payment, due on signing
    assert int(new["principal_cents"][0]) == 10_000
    adjustments = _adjustments(book)
    assert int(adjustments.filter(pl.col("kind") == "waiver")["applied_cents"].sum()) == waived
    restructure = adjustments.filter(pl.col("kind") == "restructure")
    assert (
        int(restructure["applied_cents"].sum()) == moved == int(restructure["amount_cents"].sum())
    )
    state = _account(book, "A1")
    assert (state["dpd"], state["bucket"]) == (0, "M0")  # re-aged at signing
    assert _owed(book, "A1").owed.total == moved  # nothing owed is lost but the waiver
    with book.begin() as conn, pytest.raises(PostingRefused, match="already has an active plan"):
        account = owed_now(conn, "A1")
        terms = PlanTerms(term_months=3, start=account.as_of + timedelta(days=30))
        sign_plan(conn, account, propose_plan(account.owed, terms, PlanRules()), by="x", now=NOW)
    _assert_replays_agree(book)


def test_plan__a_missed_payment_breaks_it_and_revert_brings_the_old_debt_back_exactly(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, DAY)
    before = _owed(book, "A1")
    key = _sign(book, "A1", term=6, on_break="revert", down=10_000)
    moved = before.owed.total - before.owed.penalty
    for day in range(1, 8):  # the down payment (due on signing) is never paid; grace 5 days
        close_through(book, DAY + timedelta(days=day))
        with book.begin() as conn:
            judged = judge_arrangements(conn, DAY + timedelta(days=day), NOW)
        if judged.plans_broken:
            break
    assert (judged.plans_broken, judged.plans_reverted, day) == (1, 1, 7)
    assert [cleared is not None for _, cleared in _flags(book)] == [True]  # hold lifted
    close_through(book, DAY + timedelta(days=day + 1))

    rows = _installments(book, "A1")
    old, new = rows.filter(pl.col("plan_id") == "P1"), rows.filter(pl.col("plan_id") != "P1")
    assert new["settled"].to_list() == [1] * new.height  # the plan owes nothing any more
    restored = -int(
        _adjustments(book)
        .filter((pl.col("kind") == "reinstatement") & (pl.col("amount_cents") < 0))["applied_cents"]
        .sum()
    )
    assert restored == moved  # nothing was paid under the plan: the whole old debt returns
    owed_old = sum(_unpaid(old, c) for c in ("principal", "fee", "late_fee", "penalty"))
    # The old debt, plus one day of penalty on the overdue principal since it came back (the
    # late fees were assessed long ago: none is new).
    assert int(old["late_fee_cents"].sum()) == before.owed.late_fee
    day_of_penalty = sum(
        round_half_up(PRODUCT.penalty_daily_rate, int(row["principal_cents"]))
        for row in old.iter_rows(named=True)
        if row["due_date"] + timedelta(days=PRODUCT.grace_days) < DAY
    )
    assert day_of_penalty > 0
    assert owed_old - moved == day_of_penalty
    assert int(old["penalty_cents"].sum()) == before.owed.penalty + day_of_penalty
    assert int(_account(book, "A1")["dpd"]) > 40  # type: ignore[call-overload]  # aged as before
    with book.connect() as conn:
        status = conn.execute(
            sa.select(t.arrangements.c.status).where(t.arrangements.c.arrangement_key == key)
        ).scalar_one()
    assert status == "reverted"
    _assert_replays_agree(book)


def test_plan__honoured_to_the_end_completes_and_lifts_the_hold(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    close_through(book, DAY)
    _sign(book, "A3", term=2, on_break="resume")
    rows = _installments(book, "A3").filter(pl.col("plan_id") != "P3")
    for n, row in enumerate(rows.iter_rows(named=True)):
        amount = int(row["principal_cents"] + row["fee_cents"])
        _payment(book, tmp_path, OraclePayment(f"PL{n}", amount, row["due_date"]), 3)
    last_due = rows["due_date"].max()
    close_through(book, last_due)  # type: ignore[arg-type]
    with book.begin() as conn:
        judged = judge_arrangements(conn, last_due, NOW)  # type: ignore[arg-type]
    assert judged.plans_completed == 1 and judged.plans_broken == 0
    assert [cleared is not None for _, cleared in _flags(book)] == [True]
    state = _account(book, "A3")
    assert (state["dpd"], state["overdue_cents"], state["outstanding_principal_cents"]) == (0, 0, 0)
    _assert_replays_agree(book)


def test_plan__re_aged_only_after_its_first_payments_dpd_counts_on_until_then(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    close_through(book, DAY)
    with book.begin() as conn:
        account = owed_now(conn, "A1")
        terms = PlanTerms(
            term_months=4, start=DAY + timedelta(days=30), re_age=ReAge.after_payments(2)
        )
        sign_plan(conn, account, propose_plan(account.owed, terms, PlanRules()), by="c", now=NOW)
    close_through(book, DAY + timedelta(days=1))
    state = _account(book, "A1")
    assert (state["dpd"], state["bucket"]) == (41, "M2")  # not re-aged: DPD counts on
    assert state["overdue_cents"] == 0  # while nothing is overdue any more (no charges)

    plan = _installments(book, "A1").filter(pl.col("plan_id") != "P1")
    first, second = plan.row(0, named=True), plan.row(1, named=True)
    for n, row in enumerate((first, second)):
        amount = int(row["principal_cents"] + row["fee_cents"])
        _payment(book, tmp_path, OraclePayment(f"RA{n}", amount, row["due_date"]), 1)
    close_through(book, first["due_date"])
    assert _account(book, "A1")["dpd"] == 40 + (first["due_date"] - DAY).days  # one paid
    close_through(book, second["due_date"] - timedelta(days=1))
    assert _account(book, "A1")["bucket"] == "M4"  # aged through M3 into M4 meanwhile
    close_through(book, second["due_date"])
    state = _account(book, "A1")
    assert (state["dpd"], state["bucket"]) == (0, "M0")  # re-aged with the second payment
    with book.connect() as conn:
        moves = conn.execute(
            sa.select(t.bucket_moves.c.moved_on, t.bucket_moves.c.to_bucket)
            .where(t.bucket_moves.c.account_key == 1)
            .order_by(t.bucket_moves.c.moved_on)
        ).all()
    assert (second["due_date"], "M0") == tuple(moves[-1])
    assert [m[1] for m in moves[-3:]] == ["M3", "M4", "M0"]
    _assert_replays_agree(book)


def test_plan__while_honoured_the_contact_gate_holds_collection_and_lifts_when_broken(
    book: sa.Engine,  # noqa: F811
) -> None:
    from zoneinfo import ZoneInfo

    from recoup.compliance import Channel, Party, shipped_profile
    from recoup.contact.gatekeeping import judge_manual_contact

    def call(day: date) -> list[str]:
        """The gate's rules on a collector's call to A3 at 10:00 Shanghai on ``day``."""
        at = datetime.combine(day, datetime.min.time(), ZoneInfo("Asia/Shanghai")).replace(hour=10)
        with book.begin() as conn:
            verdict = judge_manual_contact(
                conn, "A3", Channel.CALL, Party.SELF, None, at, shipped_profile("cn"), NOW
            )
        return [str(v["rule"]) for v in verdict["violations"]]  # type: ignore[attr-defined]

    close_through(book, DAY)
    assert call(DAY + timedelta(days=1)) == []  # in collection: a call is allowed
    with book.begin() as conn:  # re-aged only after payments: A3 stays past due
        account = owed_now(conn, "A3")
        terms = PlanTerms(
            term_months=4, start=DAY + timedelta(days=30), re_age=ReAge.after_payments(1)
        )
        proposal = propose_plan(account.owed, terms, PlanRules())
        sign_plan(conn, account, proposal, by="c", now=NOW, grace_days=0)
    first_due = proposal.schedule[0].due_date
    for day in range(1, (first_due - DAY).days + 2):
        close_through(book, DAY + timedelta(days=day))
        with book.begin() as conn:
            judged = judge_arrangements(conn, DAY + timedelta(days=day), NOW)
        if DAY + timedelta(days=day) <= first_due:
            assert judged.plans_broken == 0
            assert call(DAY + timedelta(days=day + 1)) == ["CN-PLAN"]  # held while honoured
    assert judged.plans_broken == 1  # the first installment was not paid on its day
    assert _account(book, "A3")["dpd"] == 40 + (first_due - DAY).days + 1
    assert call(first_due + timedelta(days=2)) == []  # collection resumes


def test_plan__without_a_break_rule_of_its_own_a_plan_follows_its_products(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, DAY)
    p = t.products
    with book.begin() as conn:  # the product now says a broken plan reverts
        spec = json.loads(
            conn.execute(sa.select(p.c.spec_json).where(p.c.product_id == PRODUCT.id)).scalar_one()
        )
        conn.execute(
            p.update()
            .where(p.c.product_id == PRODUCT.id)
            .values(spec_json=json.dumps(spec | {"plan_break": "revert"}))
        )
        account = owed_now(conn, "A1")
        terms = PlanTerms(term_months=3, start=DAY + timedelta(days=30))
        sign_plan(conn, account, propose_plan(account.owed, terms, PlanRules()), by="c", now=NOW)
        signed = conn.execute(sa.select(t.arrangements.c.terms)).scalar_one()
    assert json.loads(signed)["on_break"] == "revert"
