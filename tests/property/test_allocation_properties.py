"""Hypothesis properties of allocation (分案): on any teams file and any open cases, no
capacity is exceeded, every case has at most one owner and only an owner who may take it,
and no case is left without an owner while one who could take it has room."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.allocation import CASE_COLUMNS, allocate
from tests.allocation_cases import BUCKETS, MONDAY, agency, collector, teams, violations

LANGUAGES = ("zh", "en", "ug")
PRODUCTS = ("card", "cash")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@st.composite
def bucket_ranges(draw: st.DrawFn, lowest: int = 1) -> tuple[str, str]:
    lo = draw(st.integers(lowest, len(BUCKETS) - 1))
    hi = draw(st.integers(lo, len(BUCKETS) - 1))
    return BUCKETS[lo], BUCKETS[hi]


@st.composite
def configs(draw: st.DrawFn) -> Any:
    people = [
        collector(
            f"C{i}",
            team=draw(st.sampled_from(["T1", "T2"])),
            daily=draw(st.integers(0, 4)),
            max_open=draw(st.integers(0, 6)),
            languages=tuple(draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, unique=True))),
            buckets=draw(bucket_ranges()),
            products=draw(
                st.one_of(
                    st.just("all"),
                    st.lists(st.sampled_from(PRODUCTS), min_size=1, unique=True),
                )
            ),
            days=draw(st.lists(st.sampled_from(DAYS), min_size=1, unique=True)),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    firms = [
        agency(
            f"AG{j}",
            capacity=draw(st.integers(0, 4)),
            buckets=draw(bucket_ranges(lowest=3)),
            rate=draw(st.sampled_from(["0.15", "0.2", "0.25"])),
            recall=draw(st.one_of(st.none(), st.integers(1, 60))),
            products=draw(st.one_of(st.just("all"), st.just(["card"]))),
        )
        for j in range(draw(st.integers(0, 2)))
    ]
    return teams(
        people,
        firms,
        method=draw(st.sampled_from(["even_count", "even_balance", "skill"])),
        continuity=draw(st.booleans()),
        rotate=draw(st.one_of(st.none(), st.integers(1, 60))),
        agency_from=draw(st.sampled_from(["M3", "M4", "M5"])),
        recall=draw(st.one_of(st.none(), st.integers(1, 60))),
    )


def case_rows(owners: list[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    day = st.one_of(st.none(), st.integers(0, 90).map(lambda d: MONDAY - timedelta(days=d)))
    return st.lists(
        st.fixed_dictionaries(
            {
                "bucket": st.sampled_from([*BUCKETS[1:], "M9"]),
                "dpd": st.integers(1, 400),
                "balance_cents": st.integers(0, 10**7),
                "product_id": st.sampled_from(PRODUCTS),
                "language": st.one_of(st.none(), st.sampled_from(LANGUAGES)),
                "current_owner": st.one_of(st.none(), st.sampled_from([*owners, "GONE"])),
                "owned_since": day,
                "last_progress_on": day,
                "queue": st.sampled_from([None, None, "T1", "agency", "other"]),
            }
        ),
        max_size=25,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property__allocation_respects_capacity_eligibility_and_one_owner_per_case(
    data: st.DataObject,
) -> None:
    config = data.draw(configs())
    owners = [c.id for c in config.collectors] + [a.id for a in config.agencies]
    rows = data.draw(case_rows(owners))
    as_of = MONDAY + timedelta(days=data.draw(st.integers(0, 6)))
    frame = pl.DataFrame(
        [{"case_key": k, "account_key": k, **row} for k, row in enumerate(rows, start=1)],
        schema={**CASE_COLUMNS, "owner_kind": pl.String},
    )
    result = allocate(frame, config, as_of).cases
    assert result.height == frame.height
    assert result["case_key"].n_unique() == result.height
    assert violations(frame, config, as_of, result) == []
    # An owner is named exactly when there is one, and its kind goes with it.
    assert result.filter(pl.col("owner").is_null() != pl.col("owner_kind").is_null()).is_empty()
    assert result.filter(
        (pl.col("owner_kind") == "agency") != pl.col("commission_ppm").is_not_null()
    ).is_empty()
