"""The import refuses bad input, says where (file, line, column) and writes nothing.

Each case imports a tiny directory into an empty SQLite store. Line numbers are lines of
the CSV file: the header is line 1, the first data row line 2.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from recoup.importer import ImportFailed, ImportIssue, import_directory
from recoup.importer.installments import due_date
from recoup.ledger.schedule import add_months
from recoup.store import tables
from recoup.store.engine import open_store

PRODUCTS = textwrap.dedent(
    """\
    products:
      - id: card
        currency: CNY
        fee_model: flat_fee
        monthly_rate: "0.006"
        terms: [3, 6, 12]
        grace_days: 3
        tolerance: "10.00"
        late_fee: {rate: "0.05", min: "0.00", max: "500.00"}
        penalty_daily_rate: "0.0005"
        allocation_order: [penalty_interest, late_fee, fee, principal]
      - id: usd-loan
        currency: USD
        fee_model: annuity
        monthly_rate: "0.01"
        terms: [6, 12]
        grace_days: 0
        tolerance: "0.00"
        late_fee: {rate: "0.05", min: "10.00", max: "200.00"}
        penalty_daily_rate: "0.0005"
        allocation_order: [principal, fee, late_fee, penalty_interest]
    """
)
BORROWERS = "borrower_id,name,phone\nB1,Li Lei,13800000001\nB2,Han Meimei,13800000002\n"
PLANS = (
    "plan_id,account_id,borrower_id,product_id,principal,term,start_date\n"
    "P1,A1,B1,card,1200.00,3,2024-01-31\n"
    "P2,A2,B2,card,600,6,2024-03-01\n"
)
PAYMENTS = "payment_id,account_id,amount,paid_on,reverses\nY1,A1,400.00,2024-02-29,\n"

ALL_TABLES = (
    tables.products,
    tables.buckets,
    tables.borrowers,
    tables.contact_points,
    tables.accounts,
    tables.plans,
    tables.installments,
    tables.payments,
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


def write_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def base_files(**overrides: str | None) -> dict[str, str]:
    files: dict[str, str | None] = {
        "products.yaml": PRODUCTS,
        "borrowers.csv": BORROWERS,
        "plans.csv": PLANS,
        "payments.csv": PAYMENTS,
    }
    files.update({name.replace("_", "."): text for name, text in overrides.items()})
    return {name: text for name, text in files.items() if text is not None}


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in ALL_TABLES
        }


def refused(engine: sa.Engine, directory: Path) -> list[ImportIssue]:
    before = row_counts(engine)
    with pytest.raises(ImportFailed) as failure:
        import_directory(engine, directory, show_progress=False)
    assert row_counts(engine) == before, "a refused import must write nothing"
    return failure.value.errors


def where(issue: ImportIssue) -> tuple[str, int | None, str | None]:
    return issue.file, issue.row, issue.column


# --------------------------------------------------------------------------- money and dates


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12.345", "more than two decimals: '12.345'"),
        ("abc", "not an amount: 'abc'"),
        ("-5", "must be positive, got '-5'"),
        ("0.00", "must be positive, got '0.00'"),
        ("1e3", "not an amount: '1e3'"),
        ("", "missing value"),
    ],
)
def test_payment_amount__bad_text_is_refused_naming_file_line_and_column(
    engine: sa.Engine, tmp_path: Path, amount: str, message: str
) -> None:
    payments = PAYMENTS + f"Y2,A1,{amount},2024-03-01,\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [(("payments.csv", 3, "amount"), message)]
    assert all(count == 0 for count in row_counts(engine).values())


def test_issue_text__reads_file_line_column_and_message(engine: sa.Engine, tmp_path: Path) -> None:
    payments = PAYMENTS + "Y2,A1,1,2024-03-01,\nY3,A1,12.345,2024-03-01,\n"
    directory = write_dir(tmp_path / "in", base_files(payments_csv=payments))
    with pytest.raises(ImportFailed) as failure:
        import_directory(engine, directory, show_progress=False)
    assert (
        str(failure.value) == "payments.csv line 4, column amount: more than two decimals: '12.345'"
    )


@pytest.mark.parametrize(
    ("paid_on", "message"),
    [
        ("2024-02-30", "not a date (YYYY-MM-DD): '2024-02-30'"),
        ("2024/03/01", "not a date (YYYY-MM-DD): '2024/03/01'"),
        ("2024-3-1", "not a date (YYYY-MM-DD): '2024-3-1'"),
    ],
)
def test_payment_date__must_be_iso(
    engine: sa.Engine, tmp_path: Path, paid_on: str, message: str
) -> None:
    payments = PAYMENTS + f"Y2,A1,1.00,{paid_on},\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [(("payments.csv", 3, "paid_on"), message)]


def test_principal_and_term__checked_against_the_product(engine: sa.Engine, tmp_path: Path) -> None:
    plans = PLANS + "P3,A3,B1,card,100.001,3,2024-01-01\nP4,A4,B1,card,100,5,2024-01-01\n"
    plans += "P5,A5,B1,card,100,x,2024-01-01\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(plans_csv=plans)))
    assert [(where(e), e.message) for e in errors] == [
        (("plans.csv", 4, "principal"), "more than two decimals: '100.001'"),
        (("plans.csv", 5, "term"), "product 'card' offers terms 3, 6, 12, not 5"),
        (("plans.csv", 6, "term"), "not a whole number: 'x'"),
    ]


# --------------------------------------------------------------------------- references


def test_plan__unknown_product_and_borrower_are_refused(engine: sa.Engine, tmp_path: Path) -> None:
    plans = PLANS + "P3,A3,B1,nope,100,3,2024-01-01\nP4,A4,B9,card,100,3,2024-01-01\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(plans_csv=plans)))
    assert [(where(e), e.message) for e in errors] == [
        (("plans.csv", 4, "product_id"), "unknown product 'nope'"),
        (
            ("plans.csv", 5, "borrower_id"),
            "unknown borrower 'B9' (not in this import nor in the store)",
        ),
    ]


def test_account__keeps_one_borrower_and_one_currency(engine: sa.Engine, tmp_path: Path) -> None:
    plans = PLANS + "P3,A1,B2,card,100,3,2024-01-01\nP4,A1,B1,usd-loan,100,6,2024-01-01\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(plans_csv=plans)))
    assert [(where(e), e.message) for e in errors] == [
        (("plans.csv", 4, "borrower_id"), "account 'A1' belongs to borrower 'B1' (on line 2)"),
        (
            ("plans.csv", 5, "product_id"),
            "product 'usd-loan' is in USD, but account 'A1' is in CNY (on line 2)",
        ),
    ]


def test_account__stored_account_keeps_its_borrower(engine: sa.Engine, tmp_path: Path) -> None:
    import_directory(engine, write_dir(tmp_path / "first", base_files()), show_progress=False)
    later = "plan_id,account_id,borrower_id,product_id,principal,term,start_date\n"
    later += "P9,A1,B2,card,100,3,2024-05-01\n"
    errors = refused(engine, write_dir(tmp_path / "later", {"plans.csv": later}))
    assert [(where(e), e.message) for e in errors] == [
        (("plans.csv", 2, "borrower_id"), "account 'A1' belongs to borrower 'B1' (in the store)")
    ]


def test_plan__stored_plan_id_with_other_values_is_an_error(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_dir(tmp_path / "first", base_files()), show_progress=False)
    changed = PLANS.replace("P2,A2,B2,card,600,6", "P2,A2,B2,card,700,6")
    errors = refused(engine, write_dir(tmp_path / "again", {"plans.csv": changed}))
    assert [(where(e), e.message) for e in errors] == [
        (("plans.csv", 3, "principal"), "plan 'P2' is already stored with principal 600.00")
    ]


def test_payment__unknown_account_is_refused(engine: sa.Engine, tmp_path: Path) -> None:
    payments = PAYMENTS + "Y2,A9,1.00,2024-03-01,\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [
        (
            ("payments.csv", 3, "account_id"),
            "unknown account 'A9' (not in this import nor in the store)",
        )
    ]


def test_borrower__phone_is_required(engine: sa.Engine, tmp_path: Path) -> None:
    borrowers = BORROWERS + "B3,Wang,\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(borrowers_csv=borrowers)))
    assert [(where(e), e.message) for e in errors] == [
        (("borrowers.csv", 4, "phone"), "missing value")
    ]


# --------------------------------------------------------------------------- duplicates


def test_duplicate_payment_id__identical_rows_are_kept_once(
    engine: sa.Engine, tmp_path: Path
) -> None:
    payments = PAYMENTS + "Y1,A1,400,2024-02-29,\n"
    summary = import_directory(
        engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)), show_progress=False
    )
    assert summary.payments_added == 1


def test_duplicate_payment_id__different_rows_are_an_error(
    engine: sa.Engine, tmp_path: Path
) -> None:
    payments = PAYMENTS + "Y1,A1,401,2024-02-29,\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [
        (
            ("payments.csv", 3, "payment_id"),
            "payment_id 'Y1' appears again with different values (first on line 2)",
        )
    ]


# --------------------------------------------------------------------------- reversals


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (
            "R1,A1,400.00,2024-03-01,Y9",
            "reverses",
            "payment 'Y9' is not in this import nor in the store",
        ),
        ("R1,A2,400.00,2024-03-01,Y1", "reverses", "payment 'Y1' is on account 'A1', not 'A2'"),
        (
            "R1,A1,399.99,2024-03-01,Y1",
            "amount",
            "a reversal must be for the reversed payment's amount, 400.00",
        ),
        (
            "R1,A1,400.00,2024-02-28,Y1",
            "paid_on",
            "a reversal cannot be dated before the payment it reverses (2024-02-29)",
        ),
    ],
)
def test_reversal__must_match_the_payment_it_reverses(
    engine: sa.Engine, tmp_path: Path, row: str, column: str, message: str
) -> None:
    payments = PAYMENTS + row + "\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [(("payments.csv", 3, column), message)]


def test_reversal__cannot_reverse_a_reversal_or_reverse_twice(
    engine: sa.Engine, tmp_path: Path
) -> None:
    payments = PAYMENTS + (
        "R1,A1,400.00,2024-03-01,Y1\nR2,A1,400.00,2024-03-02,Y1\nR3,A1,400.00,2024-03-03,R1\n"
    )
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [
        (("payments.csv", 4, "reverses"), "payment 'Y1' is already reversed on line 3"),
        (("payments.csv", 5, "reverses"), "payment 'R1' is itself a reversal"),
    ]


def test_reversal__of_a_stored_payment_already_reversed_is_an_error(
    engine: sa.Engine, tmp_path: Path
) -> None:
    first = PAYMENTS + "R1,A1,400.00,2024-03-01,Y1\n"
    import_directory(
        engine, write_dir(tmp_path / "first", base_files(payments_csv=first)), show_progress=False
    )
    later = "payment_id,account_id,amount,paid_on,reverses\nR2,A1,400.00,2024-03-05,Y1\n"
    errors = refused(engine, write_dir(tmp_path / "later", {"payments.csv": later}))
    assert [(where(e), e.message) for e in errors] == [
        (("payments.csv", 2, "reverses"), "payment 'Y1' was already reversed on 2024-03-01")
    ]


# --------------------------------------------------------------------------- files


def test_files__missing_and_unknown_columns_are_named(engine: sa.Engine, tmp_path: Path) -> None:
    payments = "payment_id,account_id,ammount,paid_on\nY1,A1,1.00,2024-02-29\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [
        (("payments.csv", 1, "amount"), "missing column"),
        (("payments.csv", 1, "ammount"), "unknown column"),
    ]


def test_files__csv_and_parquet_of_one_kind_is_an_error(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dir(tmp_path / "in", base_files())
    pl.read_csv(directory / "payments.csv").write_parquet(directory / "payments.parquet")
    errors = refused(engine, directory)
    assert [where(e) for e in errors] == [("payments.csv", None, None)]
    assert "payments.parquet" in errors[0].message


def test_files__a_row_with_too_many_fields_is_located(engine: sa.Engine, tmp_path: Path) -> None:
    payments = PAYMENTS + "Y2,A1,1.00,2024-03-01,,extra\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [(where(e), e.message) for e in errors] == [
        (("payments.csv", 3, None), "more fields than the header has")
    ]


def test_files__blank_lines_do_not_shift_line_numbers(engine: sa.Engine, tmp_path: Path) -> None:
    payments = PAYMENTS + "\nY2,A1,1.001,2024-03-01,\n"
    errors = refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert [where(e) for e in errors] == [("payments.csv", 4, "amount")]


def test_products_file__error_names_the_field(engine: sa.Engine, tmp_path: Path) -> None:
    products = PRODUCTS.replace('monthly_rate: "0.006"', 'monthly_rate: "0.0000001"')
    errors = refused(engine, write_dir(tmp_path / "in", base_files(products_yaml=products)))
    assert [where(e) for e in errors] == [("products.yaml", None, "monthly_rate")]
    assert errors[0].message.startswith("product 'card': more than 6 decimals")


def test_nothing_is_written__when_only_the_last_file_is_bad(
    engine: sa.Engine, tmp_path: Path
) -> None:
    payments = PAYMENTS + "Y2,A1,-1,2024-03-01,\n"
    refused(engine, write_dir(tmp_path / "in", base_files(payments_csv=payments)))
    assert all(count == 0 for count in row_counts(engine).values())


def test_errors__stop_after_fifty(engine: sa.Engine, tmp_path: Path) -> None:
    payments = PAYMENTS + "".join(f"Y{n},A1,1.001,2024-03-01,\n" for n in range(2, 80))
    directory = write_dir(tmp_path / "in", base_files(payments_csv=payments))
    with pytest.raises(ImportFailed) as failure:
        import_directory(engine, directory, show_progress=False)
    assert len(failure.value.errors) == 50
    assert failure.value.truncated
    assert [e.row for e in failure.value.errors] == list(range(3, 53))


# --------------------------------------------------------------------------- due dates


def test_due_dates__vectorised_months_equal_add_months() -> None:
    starts = [
        date(2024, 1, 31),
        date(2023, 1, 31),
        date(2024, 2, 29),
        date(2023, 3, 31),
        date(2024, 8, 31),
        date(2024, 12, 31),
        date(2024, 5, 30),
        date(2025, 1, 15),
        date(2099, 10, 31),
    ]
    frame = pl.DataFrame(
        {
            "start": [s for s in starts for _ in range(61)],
            "months": [k for _ in starts for k in range(61)],
        },
        schema={"start": pl.Date, "months": pl.Int32},
    )
    got = frame.select(due_date(pl.col("start"), pl.col("months"))).to_series().to_list()
    expected = [add_months(s, k) for s, k in frame.iter_rows()]
    assert got == expected


def test_borrower__email_and_timezone_are_checked(engine: sa.Engine, tmp_path: Path) -> None:
    borrowers = (
        "borrower_id,name,phone,email,timezone\n"
        "B1,Li Lei,13800000001,li@example.com,Asia/Shanghai\n"
        "B2,Han Meimei,13800000002,not-an-email,Mars/Olympus\n"
    )
    errors = refused(engine, write_dir(tmp_path / "in", base_files(borrowers_csv=borrowers)))
    assert [(where(e), e.message) for e in errors] == [
        (("borrowers.csv", 3, "email"), "not an email address: 'not-an-email'"),
        (
            ("borrowers.csv", 3, "timezone"),
            "not a time zone name such as 'Asia/Shanghai': 'Mars/Olympus'",
        ),
    ]


def test_parquet__rows_are_counted_from_one(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dir(tmp_path / "in", base_files(payments_csv=None))
    pl.DataFrame(
        {
            "payment_id": ["Y1", "Y2"],
            "account_id": ["A1", "A1"],
            "amount": ["1.00", "2.005"],
            "paid_on": [date(2024, 3, 1), date(2024, 3, 2)],
        }
    ).write_parquet(directory / "payments.parquet")
    errors = refused(engine, directory)
    assert [str(e) for e in errors] == [
        "payments.parquet row 2, column amount: more than two decimals: '2.005'"
    ]


def test_progress__shown_on_stderr_only_when_asked(
    engine: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_directory(engine, write_dir(tmp_path / "a", base_files()), show_progress=False)
    assert capsys.readouterr().err == ""
    more = PAYMENTS.replace("Y1,", "Y2,")
    import_directory(engine, write_dir(tmp_path / "b", {"payments.csv": more}), show_progress=True)
    captured = capsys.readouterr()
    assert "import" in captured.err and captured.out == ""
