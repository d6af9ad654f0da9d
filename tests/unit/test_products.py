from copy import deepcopy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recoup.products import (
    DEFAULT_BUCKETS,
    ChargeComponent,
    FeeModel,
    ProductError,
    bucket_for_dpd,
    load_catalog,
    parse_catalog,
)

CARD: dict[str, Any] = {
    "id": "fenqi-card",
    "currency": "CNY",
    "fee_model": "flat_fee",
    "monthly_rate": "0.006",
    "terms": [3, 6, 12, 24, 36],
    "grace_days": 3,
    "tolerance": "10.00",
    "late_fee": {"rate": "0.05", "min": "0.00", "max": "500.00"},
    "penalty_daily_rate": "0.0005",
    "allocation_order": ["penalty_interest", "late_fee", "fee", "principal"],
}


def _with(**changes: Any) -> dict[str, Any]:
    product = deepcopy(CARD)
    product.update(changes)
    return {"products": [product]}


def test_catalog__reads_the_documented_example() -> None:
    catalog = parse_catalog({"products": [CARD]})
    card = catalog.get("fenqi-card")
    assert card.fee_model is FeeModel.FLAT_FEE
    assert card.monthly_rate == Decimal("0.006")
    assert card.tolerance_cents == 1000
    assert card.late_fee.max_cents == 50000
    assert card.allocation_order[0] is ChargeComponent.PENALTY_INTEREST
    assert catalog.buckets == DEFAULT_BUCKETS


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fee_model": "balloon"}, "fee_model"),
        ({"monthly_rate": 0.006}, "monthly_rate"),
        ({"monthly_rate": "abc"}, "monthly_rate"),
        ({"terms": [3, 61]}, "terms"),
        ({"terms": []}, "terms"),
        ({"grace_days": -1}, "grace_days"),
        ({"tolerance": "10.001"}, "tolerance"),
        ({"late_fee": {"rate": "0.05", "min": "600.00", "max": "500.00"}}, "late_fee"),
        ({"late_fee": {"rate": "0.05", "min": "0.00"}}, "late_fee.max"),
        ({"allocation_order": ["fee", "principal"]}, "allocation_order"),
        ({"allocation_order": ["fee", "fee", "principal", "late_fee"]}, "allocation_order"),
        ({"currency": "yuan"}, "currency"),
        ({"colour": "red"}, "colour"),
        ({"plan_break": "forgive"}, "plan_break"),
    ],
)
def test_catalog__a_bad_field_is_named_with_its_product(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ProductError) as error:
        parse_catalog(_with(**changes))
    assert f"product 'fenqi-card': {field}:" in str(error.value)


def test_catalog__a_missing_field_is_named() -> None:
    product = deepcopy(CARD)
    del product["penalty_daily_rate"]
    with pytest.raises(ProductError, match="product 'fenqi-card': penalty_daily_rate: missing"):
        parse_catalog({"products": [product]})


def test_catalog__buckets_must_be_contiguous_from_zero() -> None:
    with pytest.raises(ProductError, match="bucket 'M1': min_dpd"):
        parse_catalog(
            {
                "products": [CARD],
                "buckets": [
                    {"name": "M0", "min_dpd": 0, "max_dpd": 0},
                    {"name": "M1", "min_dpd": 2, "max_dpd": 30},
                ],
            }
        )


def test_buckets__default_boundaries_and_beyond_the_last() -> None:
    assert bucket_for_dpd(DEFAULT_BUCKETS, 0) == "M0"
    assert bucket_for_dpd(DEFAULT_BUCKETS, 1) == "M1"
    assert bucket_for_dpd(DEFAULT_BUCKETS, 30) == "M1"
    assert bucket_for_dpd(DEFAULT_BUCKETS, 31) == "M2"
    assert bucket_for_dpd(DEFAULT_BUCKETS, 180) == "M6"
    assert bucket_for_dpd(DEFAULT_BUCKETS, 181) == "M7+"
    bounded = parse_catalog(
        {
            "products": [CARD],
            "buckets": [
                {"name": "M0", "min_dpd": 0, "max_dpd": 0},
                {"name": "M1", "min_dpd": 1, "max_dpd": 30},
            ],
        }
    ).buckets
    assert bucket_for_dpd(bounded, 400) == "M1"


def test_load_catalog__names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    path.write_text("products:\n  - id: x\n    currency: CNY\n")
    with pytest.raises(ProductError, match=r"products.yaml: product 'x': fee_model: missing"):
        load_catalog(path)


def test_product__round_trips_through_its_spec() -> None:
    card = parse_catalog({"products": [CARD]}).get("fenqi-card")
    assert parse_catalog({"products": [card.to_spec()]}).get("fenqi-card") == card


def test_product__a_broken_plan_resumes_collection_unless_the_product_says_revert() -> None:
    assert parse_catalog({"products": [CARD]}).get("fenqi-card").plan_break == "resume"
    reverting = parse_catalog(_with(plan_break="revert")).get("fenqi-card")
    assert reverting.plan_break == "revert"
    assert parse_catalog({"products": [reverting.to_spec()]}).get("fenqi-card") == reverting
