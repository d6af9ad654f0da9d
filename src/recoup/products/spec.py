"""The products file: its format, its validation and the typed catalog it becomes.

The format is a stable interface (issue 2)::

    products:
      - id: fenqi-card
        currency: CNY
        fee_model: flat_fee        # flat_fee | annuity | equal_principal
        monthly_rate: "0.006"
        terms: [3, 6, 12, 24, 36]  # at most 60
        grace_days: 3
        tolerance: "10.00"
        late_fee: {rate: "0.05", min: "0.00", max: "500.00"}
        penalty_daily_rate: "0.0005"
        allocation_order: [penalty_interest, late_fee, fee, principal]
    buckets:                        # optional
      - {name: M0, min_dpd: 0, max_dpd: 0}

Every field is checked, and an error names the product and the field, so a user who edits
the file by hand learns exactly what to fix. The file is parsed into a *spec* (plain
mappings) and resolved into frozen records; nothing downstream sees raw YAML.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from recoup.money import MoneyError, parse_cents, parse_rate

MAX_TERM = 60


class ProductError(ValueError):
    """A products file that cannot be used; the message names the product and the field."""


class FeeModel(enum.StrEnum):
    FLAT_FEE = "flat_fee"
    ANNUITY = "annuity"
    EQUAL_PRINCIPAL = "equal_principal"


class ChargeComponent(enum.StrEnum):
    """The parts of an installment a payment can pay, named as in ``allocation_order``."""

    PENALTY_INTEREST = "penalty_interest"
    LATE_FEE = "late_fee"
    FEE = "fee"
    PRINCIPAL = "principal"


@dataclass(frozen=True, slots=True)
class LateFee:
    rate: Decimal
    min_cents: int
    max_cents: int


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    currency: str
    fee_model: FeeModel
    monthly_rate: Decimal
    terms: tuple[int, ...]
    grace_days: int
    tolerance_cents: int
    late_fee: LateFee
    penalty_daily_rate: Decimal
    allocation_order: tuple[ChargeComponent, ...]
    #: What follows when a repayment plan on this product breaks: collection resumes on the
    #: plan's arrears (``resume``), or the old terms return (``revert``).
    plan_break: str = "resume"

    def to_spec(self) -> dict[str, Any]:
        """The product back in the file's format (used to store and re-export it)."""
        from recoup.money import format_cents

        return {
            "id": self.id,
            "currency": self.currency,
            "fee_model": self.fee_model.value,
            "monthly_rate": str(self.monthly_rate),
            "terms": list(self.terms),
            "grace_days": self.grace_days,
            "tolerance": format_cents(self.tolerance_cents),
            "late_fee": {
                "rate": str(self.late_fee.rate),
                "min": format_cents(self.late_fee.min_cents),
                "max": format_cents(self.late_fee.max_cents),
            },
            "penalty_daily_rate": str(self.penalty_daily_rate),
            "allocation_order": [c.value for c in self.allocation_order],
            "plan_break": self.plan_break,
        }


@dataclass(frozen=True, slots=True)
class Bucket:
    """A delinquency bucket: accounts whose DPD lies in ``[min_dpd, max_dpd]``.

    Buckets are contiguous from DPD 0. Accounts older than the last bucket's ``max_dpd``
    stay in the last bucket, so a bounded last bucket never leaves an account unbucketed.
    """

    name: str
    min_dpd: int
    max_dpd: int | None  # None: open-ended, the last bucket


DEFAULT_BUCKETS: tuple[Bucket, ...] = (
    Bucket("M0", 0, 0),
    *(Bucket(f"M{m}", 30 * (m - 1) + 1, 30 * m) for m in range(1, 7)),
    Bucket("M7+", 181, None),
)


@dataclass(frozen=True, slots=True)
class ProductCatalog:
    products: Mapping[str, Product]
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS

    def get(self, product_id: str) -> Product:
        try:
            return self.products[product_id]
        except KeyError:
            raise ProductError(f"unknown product {product_id!r}") from None


def bucket_for_dpd(buckets: Sequence[Bucket], dpd: int) -> str:
    """The name of the bucket that holds ``dpd``."""
    for bucket in buckets:
        if dpd >= bucket.min_dpd and (bucket.max_dpd is None or dpd <= bucket.max_dpd):
            return bucket.name
    # Older than the last bucket's upper bound: it stays in the last (worst) bucket.
    return buckets[-1].name


#: What a product says follows a broken repayment plan (optional field ``plan_break``).
PLAN_BREAK_RULES = ("resume", "revert")

_PRODUCT_FIELDS = {
    "id",
    "currency",
    "fee_model",
    "monthly_rate",
    "terms",
    "grace_days",
    "tolerance",
    "late_fee",
    "penalty_daily_rate",
    "allocation_order",
    "plan_break",
}


def load_catalog(path: Path) -> ProductCatalog:
    """Read and validate a products file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProductError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_catalog(document)
    except ProductError as exc:
        raise ProductError(f"{path}: {exc}") from None


def parse_catalog(document: Any) -> ProductCatalog:
    """Validate a parsed products document and resolve it into a catalog."""
    if not isinstance(document, Mapping):
        raise ProductError("the file must be a mapping with a 'products' list")
    unknown = set(document) - {"products", "buckets"}
    if unknown:
        raise ProductError(f"unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    raw_products = document.get("products")
    if not isinstance(raw_products, list) or not raw_products:
        raise ProductError("'products' must be a non-empty list")
    products: dict[str, Product] = {}
    for index, raw in enumerate(raw_products, start=1):
        product = _parse_product(raw, index)
        if product.id in products:
            raise ProductError(f"product {product.id!r}: id: declared twice")
        products[product.id] = product
    buckets = _parse_buckets(document["buckets"]) if "buckets" in document else DEFAULT_BUCKETS
    return ProductCatalog(products=products, buckets=buckets)


def _parse_product(raw: Any, index: int) -> Product:
    if not isinstance(raw, Mapping):
        raise ProductError(f"product #{index}: must be a mapping of fields")
    product_id = raw.get("id")
    if not isinstance(product_id, str) or not product_id.strip():
        raise ProductError(f"product #{index}: id: must be a non-empty text")
    where = f"product {product_id!r}"

    def field(name: str) -> Any:
        if name not in raw:
            raise ProductError(f"{where}: {name}: missing")
        return raw[name]

    def fail(name: str, problem: str) -> ProductError:
        return ProductError(f"{where}: {name}: {problem}")

    unknown = set(raw) - _PRODUCT_FIELDS
    if unknown:
        name = sorted(map(str, unknown))[0]
        raise fail(name, "unknown field")

    currency = field("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise fail("currency", f"must be a three-letter code such as CNY, got {currency!r}")

    fee_model_text = field("fee_model")
    try:
        fee_model = FeeModel(fee_model_text)
    except ValueError:
        allowed = ", ".join(m.value for m in FeeModel)
        raise fail("fee_model", f"must be one of {allowed}, got {fee_model_text!r}") from None

    def rate(name: str, value: Any, upper: Decimal = Decimal(1)) -> Decimal:
        if isinstance(value, float):
            raise fail(name, f'write the rate as quoted text ("{value}") so it stays exact')
        try:
            parsed = parse_rate(value)
        except MoneyError as exc:
            raise fail(name, str(exc)) from None
        if parsed > upper:
            raise fail(name, f"must be at most {upper}, got {value!r}")
        return parsed

    def amount(name: str, value: Any) -> int:
        if isinstance(value, float):
            raise fail(name, f'write the amount as quoted text ("{value}") so it stays exact')
        try:
            cents = parse_cents(value)
        except MoneyError as exc:
            raise fail(name, str(exc)) from None
        if cents < 0:
            raise fail(name, f"must not be negative, got {value!r}")
        return cents

    monthly_rate = rate("monthly_rate", field("monthly_rate"), Decimal("0.5"))

    terms_raw = field("terms")
    if not isinstance(terms_raw, list) or not terms_raw:
        raise fail("terms", "must be a non-empty list of months")
    for term in terms_raw:
        if isinstance(term, bool) or not isinstance(term, int) or not 1 <= term <= MAX_TERM:
            raise fail(
                "terms", f"each term must be a whole number of months 1..{MAX_TERM}, got {term!r}"
            )
    if len(set(terms_raw)) != len(terms_raw):
        raise fail("terms", "a term is listed twice")

    grace_days = field("grace_days")
    if (
        isinstance(grace_days, bool)
        or not isinstance(grace_days, int)
        or not 0 <= grace_days <= 365
    ):
        raise fail("grace_days", f"must be a whole number of days 0..365, got {grace_days!r}")

    tolerance = amount("tolerance", field("tolerance"))

    late_raw = field("late_fee")
    if not isinstance(late_raw, Mapping):
        raise fail("late_fee", "must be a mapping {rate, min, max}")
    for key in ("rate", "min", "max"):
        if key not in late_raw:
            raise fail(f"late_fee.{key}", "missing")
    extra = set(late_raw) - {"rate", "min", "max"}
    if extra:
        raise fail(f"late_fee.{sorted(map(str, extra))[0]}", "unknown field")
    late_fee = LateFee(
        rate=rate("late_fee.rate", late_raw["rate"]),
        min_cents=amount("late_fee.min", late_raw["min"]),
        max_cents=amount("late_fee.max", late_raw["max"]),
    )
    if late_fee.min_cents > late_fee.max_cents:
        raise fail("late_fee", "min is greater than max")

    penalty_daily_rate = rate("penalty_daily_rate", field("penalty_daily_rate"), Decimal("0.01"))

    order_raw = field("allocation_order")
    if not isinstance(order_raw, list):
        raise fail("allocation_order", "must be a list of components")
    try:
        order = tuple(ChargeComponent(item) for item in order_raw)
    except ValueError:
        allowed = ", ".join(c.value for c in ChargeComponent)
        raise fail("allocation_order", f"components are {allowed}; got {order_raw!r}") from None
    if sorted(order) != sorted(ChargeComponent):
        raise fail("allocation_order", "must name each of the four components exactly once")

    plan_break = raw.get("plan_break", "resume")
    if plan_break not in PLAN_BREAK_RULES:
        raise fail(
            "plan_break", f"must be one of {', '.join(PLAN_BREAK_RULES)}, got {plan_break!r}"
        )

    return Product(
        id=product_id,
        currency=currency.upper(),
        fee_model=fee_model,
        monthly_rate=monthly_rate,
        terms=tuple(terms_raw),
        grace_days=grace_days,
        tolerance_cents=tolerance,
        late_fee=late_fee,
        penalty_daily_rate=penalty_daily_rate,
        allocation_order=order,
        plan_break=plan_break,
    )


def _parse_buckets(raw: Any) -> tuple[Bucket, ...]:
    if not isinstance(raw, list) or not raw:
        raise ProductError("buckets: must be a non-empty list")
    buckets: list[Bucket] = []
    expected_min = 0
    for index, item in enumerate(raw, start=1):
        where = f"bucket #{index}"
        if not isinstance(item, Mapping):
            raise ProductError(f"{where}: must be a mapping {{name, min_dpd, max_dpd}}")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ProductError(f"{where}: name: must be a non-empty text")
        where = f"bucket {name!r}"
        min_dpd = item.get("min_dpd")
        max_dpd = item.get("max_dpd")
        if not isinstance(min_dpd, int) or isinstance(min_dpd, bool):
            raise ProductError(f"{where}: min_dpd: must be a whole number")
        if min_dpd != expected_min:
            raise ProductError(
                f"{where}: min_dpd: buckets must be contiguous from 0; expected {expected_min}"
            )
        is_last = index == len(raw)
        if max_dpd is None and not is_last:
            raise ProductError(f"{where}: max_dpd: only the last bucket may be open-ended")
        if max_dpd is not None and (
            not isinstance(max_dpd, int) or isinstance(max_dpd, bool) or max_dpd < min_dpd
        ):
            raise ProductError(f"{where}: max_dpd: must be a whole number >= min_dpd")
        if any(b.name == name for b in buckets):
            raise ProductError(f"{where}: name: declared twice")
        buckets.append(Bucket(name, min_dpd, max_dpd))
        expected_min = (max_dpd + 1) if max_dpd is not None else expected_min
    return tuple(buckets)
