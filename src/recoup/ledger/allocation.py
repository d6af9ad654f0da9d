"""Payment allocation within one installment (还款冲抵顺序).

An amount is spread over an installment's unpaid components in the product's
``allocation_order``: each component takes ``min(what is left, its unpaid amount)``. Across
installments the pool goes oldest first; that part is vectorised in :mod:`recoup.ledger.kernel`,
which uses the same rule through :func:`component_shares`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from recoup.products.spec import ChargeComponent


def allocate(
    amount_cents: int,
    unpaid_cents: Mapping[ChargeComponent, int],
    order: Sequence[ChargeComponent],
) -> tuple[dict[ChargeComponent, int], int]:
    """Spread ``amount_cents`` over the unpaid components in ``order``.

    Returns the amount applied to each component and what is left over. The applied amounts
    plus the remainder always equal ``amount_cents``, and no component receives more than it
    owes.
    """
    if amount_cents < 0:
        raise ValueError(f"cannot allocate a negative amount: {amount_cents}")
    applied: dict[ChargeComponent, int] = {}
    left = amount_cents
    for component in order:
        owed = unpaid_cents.get(component, 0)
        if owed < 0:
            raise ValueError(f"{component.value}: unpaid amount is negative ({owed})")
        take = min(left, owed)
        applied[component] = take
        left -= take
    return applied, left


def component_shares(amount: int, unpaid_in_order: Sequence[int]) -> list[int]:
    """The scalar form of the vectorised rule: ``clip(amount - owed_before, 0, owed)``."""
    shares = []
    before = 0
    for owed in unpaid_in_order:
        shares.append(max(0, min(amount - before, owed)))
        before += owed
    return shares
