"""The portfolio simulator: a seeded, realistic installment portfolio for demos, benchmarks
and models.

``simulate_portfolio(accounts, seed, as_of)`` draws borrowers with hidden ability and
willingness to pay, their installment plans on three products, and their payments from a
monthly arrears state machine whose roll rates match the usual credit-card shapes;
``write_portfolio`` writes it in the import layout (``products.yaml``, ``borrowers.csv``,
``plans.csv``, ``payments.csv``) plus ``traits.csv``. The behaviour model is described in
:mod:`recoup.simulator.behaviour`, the files in :mod:`recoup.simulator.portfolio`.
"""

from recoup.simulator.portfolio import (
    SimulatedPortfolio,
    roll_rates,
    simulate_portfolio,
    write_portfolio,
)

__all__ = ["SimulatedPortfolio", "roll_rates", "simulate_portfolio", "write_portfolio"]
