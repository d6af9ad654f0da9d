"""Payments through the API: list an account's payments, post one, reverse one.

A payment enters the store the one way every payment does, through the portfolio import
(:func:`recoup.importer.import_directory`), so the importer's rules hold unchanged (a
reversal names a payment of the same account, for its amount, not before it, and only once).
The client's ``Idempotency-Key`` header is the payment's id: posting the same key again with
the same body returns the stored payment (200 instead of 201); with a different body it is
409 ``conflict``. The close applies a payment when it closes the payment's day.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated

import polars as pl
import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, Field

from recoup.store import tables as t
from recoup.web import audit
from recoup.web.access import readable_account
from recoup.web.api_common import (
    ERROR_RESPONSES,
    IDEMPOTENCY_PATTERN,
    AccountId,
    Amount,
    Day,
    Poster,
    cents,
    money,
)
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["payments"], responses=ERROR_RESPONSES)

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_PATTERN,
        description="the payment's id, chosen by the caller: repeating it is harmless",
    ),
]


class PaymentCreate(BaseModel):
    amount: Amount
    paid_on: Day


class ReversalCreate(BaseModel):
    paid_on: Day = Field(description="the day of the reversal, not before the payment's")


class PaymentPublic(BaseModel):
    payment_id: str
    account_id: str
    amount: str
    paid_on: date
    reverses: str | None = Field(description="the payment this row reverses")
    reversed_on: date | None = Field(description="the day this payment was reversed")


class PaymentsPublic(BaseModel):
    account_id: str
    payments: list[PaymentPublic]


def _payments(conn: sa.Connection, where: sa.ColumnElement[bool]) -> list[PaymentPublic]:
    y, a = t.payments, t.accounts
    rows = conn.execute(
        sa.select(
            y.c.payment_id,
            a.c.account_id,
            y.c.amount_cents,
            y.c.paid_on,
            y.c.reverses_payment_id,
            y.c.reversed_on,
        )
        .join(a, a.c.account_key == y.c.account_key)
        .where(where)
        .order_by(y.c.paid_on, y.c.payment_key)
    )
    return [
        PaymentPublic(
            payment_id=r.payment_id,
            account_id=r.account_id,
            amount=money(r.amount_cents),
            paid_on=r.paid_on,
            reverses=r.reverses_payment_id,
            reversed_on=r.reversed_on,
        )
        for r in rows
    ]


@router.get("/accounts/{account_id}/payments", response_model=PaymentsPublic)
def list_payments(account_id: AccountId, request: Request, user: CurrentUser) -> PaymentsPublic:
    """The account's payments and reversals, oldest first."""
    engine = engine_of(request)
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        return PaymentsPublic(
            account_id=account_id, payments=_payments(conn, t.payments.c.account_key == key)
        )


def _post(
    request: Request,
    response: Response,
    user: object,
    account_id: str,
    payment: PaymentPublic,
) -> PaymentPublic:
    """Import ``payment`` (one row) with its audit entry in the same transaction; answer the
    stored payment, 201 when new and 200 when the key was already stored with the same body."""
    from recoup.importer import ImportFailed, ImportSummary, import_directory

    engine = engine_of(request)
    username = getattr(user, "username", "?")
    stored: list[PaymentPublic] = []

    def then(conn: sa.Connection, summary: ImportSummary) -> None:
        found = _payments(conn, t.payments.c.payment_id == payment.payment_id)
        if not found:  # cannot happen: the row was added or already stored
            raise ApiError(409, "conflict", f"payment {payment.payment_id} was not stored")
        same = found[0].model_dump(exclude={"reversed_on"}) == payment.model_dump(
            exclude={"reversed_on"}
        )
        if not same:
            raise ApiError(
                409,
                "conflict",
                f"Idempotency-Key {payment.payment_id} was already used for another payment "
                f"({found[0].amount} on {found[0].account_id} paid {found[0].paid_on})",
            )
        added = summary.payments_added + summary.reversals_added
        if added:
            audit.append(
                conn,
                username,
                "payment.reverse" if payment.reverses else "payment.post",
                f"account:{account_id}",
                payment.model_dump(mode="json", exclude={"reversed_on"}),
            )
        response.status_code = 201 if added else 200
        stored.append(found[0])

    frame = pl.DataFrame(
        {
            "payment_id": [payment.payment_id],
            "account_id": [account_id],
            "amount": [payment.amount],
            "paid_on": [payment.paid_on.isoformat()],
            "reverses": [payment.reverses or ""],
        }
    )
    with tempfile.TemporaryDirectory(prefix="recoup-payment-") as folder:
        frame.write_csv(FilePath(folder) / "payments.csv")
        try:
            import_directory(
                engine,
                FilePath(folder),
                show_progress=False,
                then=then,
                refresh_statistics=False,
            )
        except ImportFailed as exc:
            problems = "; ".join(issue.message for issue in exc.errors)
            raise ApiError(422, "invalid_payment", problems) from None
    return stored[0]


@router.post(
    "/accounts/{account_id}/payments",
    response_model=PaymentPublic,
    status_code=201,
    responses={200: {"model": PaymentPublic, "description": "the key was already posted"}},
)
def post_payment(
    account_id: AccountId,
    body: PaymentCreate,
    idempotency_key: IdempotencyKey,
    request: Request,
    response: Response,
    user: Poster,
) -> PaymentPublic:
    """Post a payment. Team leads and admins; the ``Idempotency-Key`` is its id."""
    engine = engine_of(request)
    with engine.connect() as conn:
        readable_account(engine, conn, user, account_id)
    amount = cents(body.amount, "amount")
    payment = PaymentPublic(
        payment_id=idempotency_key,
        account_id=account_id,
        amount=money(amount),
        paid_on=body.paid_on,
        reverses=None,
        reversed_on=None,
    )
    return _post(request, response, user, account_id, payment)


@router.post(
    "/accounts/{account_id}/payments/{payment_id}/reversal",
    response_model=PaymentPublic,
    status_code=201,
    responses={200: {"model": PaymentPublic, "description": "the key was already posted"}},
)
def reverse_payment(
    account_id: AccountId,
    payment_id: Annotated[str, Path(min_length=1, max_length=64, pattern=IDEMPOTENCY_PATTERN)],
    body: ReversalCreate,
    idempotency_key: IdempotencyKey,
    request: Request,
    response: Response,
    user: Poster,
) -> PaymentPublic:
    """Reverse a payment (a bounced transfer, a charge-back): a payment row of the same amount
    that ``reverses`` it. The ``Idempotency-Key`` is the reversal's id."""
    engine = engine_of(request)
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        y = t.payments
        original = conn.execute(
            sa.select(y.c.amount_cents).where(y.c.payment_id == payment_id, y.c.account_key == key)
        ).scalar()
    if original is None:
        raise ApiError(404, "not_found", f"account {account_id} has no payment {payment_id!r}")
    reversal = PaymentPublic(
        payment_id=idempotency_key,
        account_id=account_id,
        amount=money(original),
        paid_on=body.paid_on,
        reverses=payment_id,
        reversed_on=None,
    )
    return _post(request, response, user, account_id, reversal)
