"""The simulated lender's products: three installment offers written as a products file.

The text below is exactly what :func:`recoup.simulator.write_portfolio` writes as
``products.yaml``, so the simulated portfolio imports with the same file a user would edit.
It is parsed with :func:`recoup.products.parse_catalog`; the simulator reads its rates, terms
and charges from the parsed catalog, never from copies of the numbers.

- ``card-fenqi`` (信用卡分期): a card installment, flat fee 0.6% a month on the original
  principal, 3 days' grace, late fee 5% (10.00 to 500.00), penalty 0.05% a day.
- ``cash-loan`` (现金贷): an annuity cash loan at 1.25% a month, 1 day's grace, late fee 3%
  (20.00 to 300.00), penalty 0.06% a day.
- ``reno-loan`` (装修分期): an equal-principal renovation loan at 0.45% a month, 5 days'
  grace, late fee 2% (30.00 to 200.00), penalty 0.04% a day, and an allocation order that
  pays the installment itself before its charges.

``buckets`` is omitted, so the default M0 to M7+ buckets apply.
"""

from __future__ import annotations

from functools import cache

import yaml

from recoup.products.spec import ProductCatalog, parse_catalog

PRODUCTS_YAML = """\
# Products of the simulated portfolio (recoup.simulator). Rates and amounts are quoted
# text so they stay exact; see src/recoup/products/spec.py for the format.
products:
  - id: card-fenqi
    currency: CNY
    fee_model: flat_fee
    monthly_rate: "0.006"
    terms: [3, 6, 12, 24]
    grace_days: 3
    tolerance: "10.00"
    late_fee: {rate: "0.05", min: "10.00", max: "500.00"}
    penalty_daily_rate: "0.0005"
    allocation_order: [penalty_interest, late_fee, fee, principal]
  - id: cash-loan
    currency: CNY
    fee_model: annuity
    monthly_rate: "0.0125"
    terms: [6, 12, 24, 36]
    grace_days: 1
    tolerance: "5.00"
    late_fee: {rate: "0.03", min: "20.00", max: "300.00"}
    penalty_daily_rate: "0.0006"
    allocation_order: [penalty_interest, late_fee, fee, principal]
  - id: reno-loan
    currency: CNY
    fee_model: equal_principal
    monthly_rate: "0.0045"
    terms: [12, 24, 36]
    grace_days: 5
    tolerance: "10.00"
    late_fee: {rate: "0.02", min: "30.00", max: "200.00"}
    penalty_daily_rate: "0.0004"
    allocation_order: [fee, principal, late_fee, penalty_interest]
"""


@cache
def simulator_catalog() -> ProductCatalog:
    """The parsed products of :data:`PRODUCTS_YAML`."""
    return parse_catalog(yaml.safe_load(PRODUCTS_YAML))
