"""The import's rules, checked over whole files at once, and the rows they let through.

Each ``check_*`` function takes one input file (as text), the parts of the store it needs
and the keys to number new rows from, and returns the file with every problem marked in
its error columns (see :mod:`recoup.importer.fields`) together with the rows to write. The
rows to write are only used when no file has a problem. Nothing here touches the database.

Rules (issue text, ``docs/ledger-rules.md``):

- borrowers: ``borrower_id``, ``name`` and ``phone`` are required; a known borrower_id with
  the same values adds nothing, with a changed name (or region, timezone when the file has
  those columns) is updated. Phone, and email when given, are the borrower's own contact
  points, added when not already stored.
- plans: principal is a positive amount, term a term of the plan's product, start_date an
  ISO date; the product and the borrower exist (in this import or the store). A new
  account_id opens an account for the plan's borrower, in the product's currency, opened on
  its earliest plan start; a known account must have the same borrower and currency. A
  stored plan_id with the same values adds nothing; with different values it is an error.
- payments: a positive amount on a known account; a stored payment_id is skipped. A
  reversal (``reverses``) names a known ordinary payment on the same account, not already
  reversed, for the same amount, dated on or after it; it marks that payment reversed on
  the reversal's date.
- In a file, a second row with the same id is dropped when identical, an error otherwise.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from recoup.importer import fields as f
from recoup.importer.fields import ROW, flag, quoted, row_ok
from recoup.importer.files import InputFile
from recoup.products.spec import ProductCatalog

ID_LENGTH = 64


def _numbered(frame: pl.DataFrame, column: str, first: int) -> pl.DataFrame:
    """``frame`` with ``column`` = first, first + 1, ... in row order."""
    return frame.with_row_index(column, offset=0).with_columns(
        (pl.col(column).cast(pl.Int64) + first).alias(column)
    )


def _is_true(expr: pl.Expr) -> pl.Expr:
    return expr.fill_null(False)


# --------------------------------------------------------------------------- borrowers


@dataclass(frozen=True, slots=True)
class BorrowerRows:
    checked: pl.DataFrame
    #: New borrowers: borrower_key, borrower_id, name, region, timezone.
    added: pl.DataFrame
    #: Known borrowers whose details changed: borrower_key, name, region, timezone.
    updated: pl.DataFrame
    #: New contact points: contact_point_key, borrower_key, kind, value, party.
    contacts: pl.DataFrame
    #: borrower_id -> borrower_key of every borrower of this file (new or known).
    keys: pl.DataFrame


def check_borrowers(
    source: InputFile,
    stored: pl.DataFrame,
    stored_contacts: pl.DataFrame,
    next_borrower_key: int,
    next_contact_key: int,
    timezones: Collection[str] = (),
) -> BorrowerRows:
    """Check a borrowers file against the stored borrowers with the same ids.

    ``stored``: borrower_key, borrower_id, name, region, timezone;
    ``stored_contacts``: borrower_key, kind, value of those borrowers.
    """
    frame = f.require(source.frame, ["borrower_id", "name", "phone"])
    for column, limit in (
        ("borrower_id", ID_LENGTH),
        ("name", 200),
        ("phone", 400),
        ("email", 400),
        ("address", 400),
        ("region", 64),
        ("timezone", 64),
    ):
        frame = f.max_length(frame, column, limit)
    email = pl.col("email")
    frame = flag(
        frame,
        "email",
        email.is_not_null() & ~email.str.contains(r"^[^@\s]+@[^@\s]+$"),
        pl.format("not an email address: {}", quoted("email")),
    )
    if timezones:
        zone = pl.col("timezone")
        frame = flag(
            frame,
            "timezone",
            zone.is_not_null() & ~zone.is_in(sorted(timezones)),
            pl.format("not a time zone name such as 'Asia/Shanghai': {}", quoted("timezone")),
        )
    details = ["name", "phone", "email", "address", "region", "timezone"]
    frame = f.duplicates(frame, "borrower_id", details, "borrower_id", source.unit)

    valid = f.valid_rows(frame).join(
        stored.rename({c: f"{c}_stored" for c in stored.columns if c != "borrower_id"}),
        on="borrower_id",
        how="left",
        maintain_order="left",
    )
    added = _numbered(
        valid.filter(pl.col("borrower_key_stored").is_null()).select(
            "borrower_id", "name", "region", "timezone"
        ),
        "borrower_key",
        next_borrower_key,
    )
    known = valid.filter(pl.col("borrower_key_stored").is_not_null())
    # An absent optional column keeps what is stored; a present one replaces it.
    kept = {
        column: (pl.col(column) if column in source.present else pl.col(f"{column}_stored"))
        for column in ("region", "timezone")
    }
    known = known.with_columns(kept["region"].alias("region"), kept["timezone"].alias("timezone"))
    changed = ~pl.all_horizontal(
        pl.col(c).eq_missing(pl.col(f"{c}_stored")) for c in ("name", "region", "timezone")
    )
    updated = known.filter(changed).select(
        pl.col("borrower_key_stored").alias("borrower_key"), "name", "region", "timezone"
    )
    keys = pl.concat(
        [
            added.select("borrower_id", "borrower_key"),
            known.select("borrower_id", pl.col("borrower_key_stored").alias("borrower_key")),
        ]
    )
    with_keys = valid.join(keys, on="borrower_id", how="left", maintain_order="left")
    wanted = pl.concat(
        [
            with_keys.select(
                "borrower_key", pl.lit("phone").alias("kind"), pl.col("phone").alias("value")
            ),
            with_keys.filter(pl.col("email").is_not_null()).select(
                "borrower_key", pl.lit("email").alias("kind"), pl.col("email").alias("value")
            ),
            with_keys.filter(pl.col("address").is_not_null()).select(
                "borrower_key", pl.lit("address").alias("kind"), pl.col("address").alias("value")
            ),
        ]
    ).unique(maintain_order=True)
    new_contacts = wanted.join(
        stored_contacts.select("borrower_key", "kind", "value"),
        on=["borrower_key", "kind", "value"],
        how="anti",
        maintain_order="left",
    ).with_columns(pl.lit("self").alias("party"), pl.lit("import").alias("source"))
    contacts = _numbered(new_contacts, "contact_point_key", next_contact_key)
    return BorrowerRows(frame, added, updated, contacts, keys)


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class PlanRows:
    checked: pl.DataFrame
    #: New accounts: account_key, account_id, borrower_key, currency, opened_on.
    accounts_added: pl.DataFrame
    #: Known accounts that a new plan opens earlier: account_key, opened_on.
    accounts_reopened: pl.DataFrame
    #: New plans: plan_key, plan_id, account_key, product_id, principal_cents, term, start_date.
    #: (Their schedules are laid out by ``installment_rows`` once the whole import is valid.)
    added: pl.DataFrame
    skipped: int
    #: account_id -> account_key of the accounts this file opens.
    account_keys: pl.DataFrame


def products_frame(catalog: ProductCatalog) -> pl.DataFrame:
    """product_id, currency and terms of each product, to join onto plans."""
    return pl.DataFrame(
        {
            "product_id": list(catalog.products),
            "currency": [p.currency for p in catalog.products.values()],
            "terms": [list(p.terms) for p in catalog.products.values()],
        },
        schema={"product_id": pl.Utf8, "currency": pl.Utf8, "terms": pl.List(pl.Int64)},
    )


def check_plans(
    source: InputFile,
    catalog: ProductCatalog | None,
    borrower_ids: pl.Series | None,
    borrower_keys: pl.DataFrame,
    stored_accounts: pl.DataFrame,
    stored_plans: pl.DataFrame,
    next_account_key: int,
    next_plan_key: int,
) -> PlanRows:
    """Check a plans file; open accounts and lay out the schedules of its new plans.

    ``catalog`` is the catalog in force (None when the products file is broken: product
    checks are then skipped). ``borrower_ids``: every borrower known to this import or the
    store (None: skip that check, the borrowers file is broken); ``borrower_keys``:
    borrower_id -> borrower_key. ``stored_accounts``: account_key, account_id, borrower_id,
    currency, opened_on; ``stored_plans``: plan_id, account_id,
    borrower_id, product_id, principal_cents, term, start_date.
    """
    frame = f.require(
        source.frame,
        ["plan_id", "account_id", "borrower_id", "product_id", "principal", "term", "start_date"],
    )
    for column in ("plan_id", "account_id", "borrower_id", "product_id"):
        frame = f.max_length(frame, column, ID_LENGTH)
    frame = f.money(frame, "principal", "principal_cents", positive=True)
    frame = f.whole_number(frame, "term", "term_months")
    frame = f.iso_date(frame, "start_date", "start")
    values = ["account_id", "borrower_id", "product_id", "principal_cents", "term_months", "start"]
    frame = f.duplicates(frame, "plan_id", values, "plan_id", source.unit)

    # A stored plan_id: identical adds nothing, anything else is an error on that column.
    stored = stored_plans.select(
        "plan_id",
        *(
            pl.col(column).alias(f"{name}_stored")
            for name, column in (
                ("account_id", "account_id"),
                ("borrower_id", "borrower_id"),
                ("product_id", "product_id"),
                ("principal_cents", "principal_cents"),
                ("term_months", "term"),
                ("start", "start_date"),
            )
        ),
        pl.lit(True).alias("is_stored"),
    )
    frame = frame.join(stored, on="plan_id", how="left", maintain_order="left").with_columns(
        pl.col("is_stored").fill_null(False)
    )
    is_stored = pl.col("is_stored")
    for name, column, shown in (
        ("account_id", "account_id", quoted("account_id_stored")),
        ("borrower_id", "borrower_id", quoted("borrower_id_stored")),
        ("product_id", "product_id", quoted("product_id_stored")),
        ("principal_cents", "principal", f.cents_text(pl.col("principal_cents_stored"))),
        ("term_months", "term", pl.col("term_months_stored").cast(pl.Utf8)),
        ("start", "start_date", pl.col("start_stored").cast(pl.Utf8)),
    ):
        frame = flag(
            frame,
            column,
            is_stored & pl.col(name).is_not_null() & (pl.col(name) != pl.col(f"{name}_stored")),
            pl.format(f"plan {{}} is already stored with {column} {{}}", quoted("plan_id"), shown),
        )
    skipped = frame.filter(is_stored & row_ok()).height
    new = ~is_stored

    if catalog is not None:
        frame = frame.join(
            products_frame(catalog), on="product_id", how="left", maintain_order="left"
        )
        frame = flag(
            frame,
            "product_id",
            new & pl.col("product_id").is_not_null() & pl.col("currency").is_null(),
            pl.format("unknown product {}", quoted("product_id")),
        )
        frame = flag(
            frame,
            "term",
            new & _is_true(~pl.col("terms").list.contains(pl.col("term_months"))),
            pl.format(
                "product {} offers terms {}, not {}",
                quoted("product_id"),
                pl.col("terms").cast(pl.List(pl.Utf8)).list.join(", "),
                pl.col("term"),
            ),
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.Utf8).alias("currency"),
            pl.lit(None, dtype=pl.List(pl.Int64)).alias("terms"),
        )
    if borrower_ids is not None:
        frame = flag(
            frame,
            "borrower_id",
            new
            & pl.col("borrower_id").is_not_null()
            & ~pl.col("borrower_id").is_in(borrower_ids.implode()),
            pl.format(
                "unknown borrower {} (not in this import nor in the store)", quoted("borrower_id")
            ),
        )

    # Accounts: a known one keeps its borrower and currency; a new one takes them from its
    # first plan in the file.
    accounts = stored_accounts.select(
        "account_id",
        pl.col("account_key").alias("account_key_stored"),
        pl.col("borrower_id").alias("account_borrower"),
        pl.col("currency").alias("account_currency"),
        pl.col("opened_on").alias("account_opened_on"),
    )
    frame = frame.join(accounts, on="account_id", how="left", maintain_order="left")
    firsts = (
        frame.filter(
            new & pl.col("account_key_stored").is_null() & pl.col("currency").is_not_null()
        )
        .group_by("account_id", maintain_order=True)
        .agg(
            pl.col(ROW).first().alias("account_first_row"),
            pl.col("borrower_id").first().alias("first_borrower"),
            pl.col("currency").first().alias("first_currency"),
        )
    )
    frame = frame.join(firsts, on="account_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("account_borrower", "first_borrower").alias("account_borrower"),
        pl.coalesce("account_currency", "first_currency").alias("account_currency"),
    )
    where = (
        pl.when(pl.col("account_key_stored").is_not_null())
        .then(pl.lit("in the store"))
        .otherwise(pl.format(f"on {source.unit} {{}}", pl.col("account_first_row")))
    )
    frame = flag(
        frame,
        "borrower_id",
        new & _is_true(pl.col("borrower_id") != pl.col("account_borrower")),
        pl.format(
            "account {} belongs to borrower {} ({})",
            quoted("account_id"),
            quoted("account_borrower"),
            where,
        ),
    )
    frame = flag(
        frame,
        "product_id",
        new & _is_true(pl.col("currency") != pl.col("account_currency")),
        pl.format(
            "product {} is in {}, but account {} is in {} ({})",
            quoted("product_id"),
            pl.col("currency"),
            quoted("account_id"),
            pl.col("account_currency"),
            where,
        ),
    )

    plans = f.valid_rows(frame).filter(new)
    opened = plans.group_by("account_id", maintain_order=True).agg(
        pl.col("account_key_stored").first(),
        pl.col("borrower_id").first(),
        pl.col("currency").first(),
        pl.col("start").min().alias("opened_on"),
        pl.col("account_opened_on").first(),
    )
    accounts_added = _numbered(
        opened.filter(pl.col("account_key_stored").is_null())
        .join(borrower_keys, on="borrower_id", how="left", maintain_order="left")
        .select("account_id", "borrower_key", "currency", "opened_on"),
        "account_key",
        next_account_key,
    )
    accounts_reopened = opened.filter(
        pl.col("account_key_stored").is_not_null()
        & (pl.col("opened_on") < pl.col("account_opened_on"))
    ).select(pl.col("account_key_stored").alias("account_key"), "opened_on")
    account_keys = accounts_added.select("account_id", "account_key")
    added = _numbered(
        plans.join(account_keys, on="account_id", how="left", maintain_order="left").select(
            "plan_id",
            pl.coalesce("account_key_stored", "account_key").alias("account_key"),
            "product_id",
            "principal_cents",
            pl.col("term_months").cast(pl.Int32).alias("term"),
            pl.col("start").alias("start_date"),
        ),
        "plan_key",
        next_plan_key,
    )
    return PlanRows(frame, accounts_added, accounts_reopened, added, skipped, account_keys)


# --------------------------------------------------------------------------- payments


@dataclass(frozen=True, slots=True)
class PaymentRows:
    checked: pl.DataFrame
    #: New rows of the payments table (payments and reversals).
    added: pl.DataFrame
    #: Stored payments reversed by this import: payment_key, reversed_on.
    reversed: pl.DataFrame
    skipped: int
    reversals: int


def check_payments(
    source: InputFile,
    account_ids: pl.Series | None,
    account_keys: pl.DataFrame,
    stored_ids: pl.Series,
    stored: pl.DataFrame,
    next_payment_key: int,
    imported_at: datetime,
) -> PaymentRows:
    """Check a payments file against the known accounts and the stored payments.

    ``account_ids``: every account known to this import or the store (None: skip that
    check, the plans file is broken); ``account_keys``:
    account_id -> account_key; ``stored_ids``: the payment_ids of this file already stored;
    ``stored``: payment_key, payment_id, account_id, amount_cents, paid_on,
    reverses_payment_id, reversed_on of the stored payments this file's reversals name.
    """
    frame = f.require(source.frame, ["payment_id", "account_id", "amount", "paid_on"])
    for column in ("payment_id", "account_id", "reverses"):
        frame = f.max_length(frame, column, ID_LENGTH)
    frame = f.money(frame, "amount", "amount_cents", positive=True)
    frame = f.iso_date(frame, "paid_on", "paid")
    values = ["account_id", "amount_cents", "paid", "reverses"]
    frame = f.duplicates(frame, "payment_id", values, "payment_id", source.unit)

    frame = frame.with_columns(pl.col("payment_id").is_in(stored_ids.implode()).alias("is_stored"))
    is_new = ~pl.col("is_stored")
    skipped = frame.filter(pl.col("is_stored") & row_ok()).height
    if account_ids is not None:
        frame = flag(
            frame,
            "account_id",
            is_new
            & pl.col("account_id").is_not_null()
            & ~pl.col("account_id").is_in(account_ids.implode()),
            pl.format(
                "unknown account {} (not in this import nor in the store)", quoted("account_id")
            ),
        )

    # Reversals: check each against the payment it names, here or in the store.
    targets = pl.concat(
        [
            frame.filter(is_new & pl.col("payment_id").is_not_null()).select(
                pl.col("payment_id").alias("reverses"),
                pl.col("account_id").alias("target_account"),
                pl.col("amount_cents").alias("target_amount"),
                pl.col("paid").alias("target_paid"),
                pl.col("reverses").alias("target_reverses"),
                pl.lit(None, dtype=pl.Date).alias("target_reversed_on"),
                pl.lit(None, dtype=pl.Int64).alias("target_key"),
            ),
            stored.select(
                pl.col("payment_id").alias("reverses"),
                pl.col("account_id").alias("target_account"),
                pl.col("amount_cents").alias("target_amount"),
                pl.col("paid_on").alias("target_paid"),
                pl.col("reverses_payment_id").alias("target_reverses"),
                pl.col("reversed_on").alias("target_reversed_on"),
                pl.col("payment_key").alias("target_key"),
            ),
        ]
    ).unique("reverses", keep="first", maintain_order=True)
    frame = frame.join(targets, on="reverses", how="left", maintain_order="left")
    reversal = is_new & pl.col("reverses").is_not_null()
    first_reversal = (
        frame.filter(reversal)
        .group_by("reverses", maintain_order=True)
        .agg(pl.col(ROW).first().alias("first_reversal_row"))
    )
    frame = frame.join(first_reversal, on="reverses", how="left", maintain_order="left")
    target = quoted("reverses")
    for failing, message in (
        (
            pl.col("target_account").is_null(),
            pl.format("payment {} is not in this import nor in the store", target),
        ),
        (
            pl.col("target_reverses").is_not_null(),
            pl.format("payment {} is itself a reversal", target),
        ),
        (
            _is_true(pl.col("target_account") != pl.col("account_id")),
            pl.format(
                "payment {} is on account {}, not {}",
                target,
                quoted("target_account"),
                quoted("account_id"),
            ),
        ),
        (
            pl.col("target_reversed_on").is_not_null(),
            pl.format(
                "payment {} was already reversed on {}", target, pl.col("target_reversed_on")
            ),
        ),
        (
            pl.col(ROW) != pl.col("first_reversal_row"),
            pl.format(
                f"payment {{}} is already reversed on {source.unit} {{}}",
                target,
                pl.col("first_reversal_row"),
            ),
        ),
    ):
        frame = flag(frame, "reverses", reversal & failing, message)
    frame = flag(
        frame,
        "amount",
        reversal & _is_true(pl.col("amount_cents") != pl.col("target_amount")),
        pl.format(
            "a reversal must be for the reversed payment's amount, {}",
            f.cents_text(pl.col("target_amount")),
        ),
    )
    frame = flag(
        frame,
        "paid_on",
        reversal & _is_true(pl.col("paid") < pl.col("target_paid")),
        pl.format(
            "a reversal cannot be dated before the payment it reverses ({})",
            pl.col("target_paid"),
        ),
    )

    rows = f.valid_rows(frame).filter(is_new)
    reversals = rows.filter(pl.col("reverses").is_not_null())
    reversed_on = reversals.select(
        pl.col("reverses").alias("payment_id"), pl.col("paid").alias("reversed_on")
    )
    added = _numbered(
        rows.join(account_keys, on="account_id", how="left", maintain_order="left")
        .join(reversed_on, on="payment_id", how="left", maintain_order="left")
        .select(
            "payment_id",
            "account_key",
            "amount_cents",
            pl.col("paid").alias("paid_on"),
            pl.col("reverses").alias("reverses_payment_id"),
            "reversed_on",
            pl.lit(imported_at).dt.cast_time_unit("us").alias("imported_at"),
        ),
        "payment_key",
        next_payment_key,
    )
    reversed_stored = reversals.filter(pl.col("target_key").is_not_null()).select(
        pl.col("target_key").alias("payment_key"), pl.col("paid").alias("reversed_on")
    )
    return PaymentRows(frame, added, reversed_stored, skipped, reversals.height)
