"""Risk benchmark: point-in-time features and both models on 1,000,000 accounts, and training
on 200,000 rows.

    python bench/risk.py [--accounts 1000000] [--train-rows 200000]

A synthetic history in the shape the store gives (``recoup.risk.features.History``): twelve
month-end states per account (10% of them past due), ten payments, twelve installments, and
bucket moves, promises and contact attempts for a share of the book. The target is drawn from
the features (risk rising with days past due and days since the last payment, falling with
the payment ratio), so the models have something to learn. Timed: the features as of one day;
training the scorecard and the LightGBM challenger on ``--train-rows`` rows; scoring the whole
book with both (features, probabilities, scorecard points and the top three reason codes of
each). Printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date, timedelta

import numpy as np
import polars as pl

from recoup.risk.challenger import fit_gbm
from recoup.risk.features import FEATURES, History, features_as_of
from recoup.risk.scorecard import fit_scorecard

AS_OF = date(2025, 11, 30)
BUCKETS = np.array(["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"])


def _days(rng: np.random.Generator, start: str, span: int, n: int) -> pl.Series:
    return pl.Series(np.datetime64(start) + rng.integers(0, span, n)).cast(pl.Date)


def synthetic_history(n: int, seed: int = 1) -> History:
    rng = np.random.default_rng(seed)
    keys = np.arange(1, n + 1, dtype=np.int64)
    month_ends = (
        pl.date_range(date(2025, 1, 1), date(2025, 12, 1), "1mo", eager=True)
        .dt.month_end()
        .to_numpy()
    )
    dpd = np.where(rng.random(n * 12) < 0.1, rng.integers(1, 200, n * 12), 0)
    states = pl.DataFrame(
        {
            "account_key": np.repeat(keys, 12),
            "as_of": pl.Series(np.tile(month_ends, n)).cast(pl.Date),
            "dpd": dpd.astype(np.int64),
            "bucket": BUCKETS[np.minimum((dpd + 29) // 30, 7)],
            "overdue_cents": (dpd * 1_000).astype(np.int64),
            "outstanding_principal_cents": rng.integers(0, 5_000_000, n * 12),
        }
    )
    paid_on = _days(rng, "2025-01-01", 365, n * 10)
    payments = pl.DataFrame(
        {
            "account_key": np.repeat(keys, 10),
            "amount_cents": rng.integers(100, 500_000, n * 10),
            "paid_on": paid_on,
            "reversed_on": pl.Series([None] * (n * 10), dtype=pl.Date),
            "known_on": paid_on,
        }
    )
    installments = pl.DataFrame(
        {
            "account_key": np.repeat(keys, 12),
            "plan_key": np.repeat(keys, 12),
            "start_date": pl.Series([date(2025, 1, 1)] * (n * 12), dtype=pl.Date),
            "due_date": pl.Series(np.tile(month_ends, n)).cast(pl.Date),
            "principal_cents": rng.integers(10_000, 500_000, n * 12),
            "fee_cents": rng.integers(0, 5_000, n * 12),
        }
    )
    m = n // 2
    moves = pl.DataFrame(
        {
            "account_key": rng.integers(1, n + 1, m),
            "moved_on": _days(rng, "2025-01-01", 365, m),
            "from_bucket": BUCKETS[rng.integers(0, 3, m)],
            "to_bucket": BUCKETS[rng.integers(0, 3, m)],
            "dpd": rng.integers(0, 90, m),
        }
    )
    q = n // 10
    made = _days(rng, "2025-01-01", 330, q)
    promises = pl.DataFrame(
        {
            "promise_key": np.arange(q, dtype=np.int64),
            "account_key": rng.integers(1, n + 1, q),
            "made_on": made,
            "promised_for": made + timedelta(days=7),
            "grace_days": np.full(q, 2, dtype=np.int64),
            "amount_cents": rng.integers(100, 100_000, q),
            "status": np.array(["kept", "broken", "partly_kept"])[rng.integers(0, 3, q)],
            "resolved_on": made + timedelta(days=10),
        }
    )
    a = n * 2
    seconds = rng.integers(0, 330 * 86_400, a).astype("timedelta64[s]")
    attempts = pl.DataFrame(
        {
            "account_key": rng.integers(1, n + 1, a),
            "at": pl.Series(
                (np.datetime64("2025-01-01T00:00:00") + seconds).astype("datetime64[us]")
            )
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC"),
            "channel": np.array(["call", "sms"])[rng.integers(0, 2, a)],
            "party": np.full(a, "self"),
            "outcome": np.array(["no_answer", "right_party_contact", "promise_to_pay"])[
                rng.integers(0, 3, a)
            ],
        }
    )
    accounts = pl.DataFrame({"account_key": keys, "opened_on": _days(rng, "2023-01-01", 700, n)})
    return History.of(
        since=date(2024, 12, 1),
        until=AS_OF,
        accounts=accounts,
        states=states,
        payments=payments,
        installments=installments,
        moves=moves,
        promises=promises,
        attempts=attempts,
    )


def synthetic_target(features: pl.DataFrame, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dpd = features["dpd_now"].fill_null(0).to_numpy()
    since = np.minimum(features["days_since_payment"].fill_null(9999).to_numpy(), 400)
    ratio = features["payment_ratio_3m"].fill_null(1.0).to_numpy()
    logit = -3.0 + 0.02 * dpd + 0.01 * since - 1.0 * ratio
    target: np.ndarray = (rng.random(features.height) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=200_000)
    args = parser.parse_args()

    clock = time.perf_counter()
    history = synthetic_history(args.accounts)
    print(
        f"synthetic history of {args.accounts:,} accounts built in "
        f"{time.perf_counter() - clock:.1f} s"
    )

    clock = time.perf_counter()
    features = features_as_of(history, AS_OF)
    feature_seconds = time.perf_counter() - clock
    names = [n for n in FEATURES if n in features.columns]
    target = synthetic_target(features)
    print(f"features as of {AS_OF}: {feature_seconds:.2f} s ({len(names)} features)")

    sample = np.random.default_rng(3).choice(features.height, args.train_rows, replace=False)
    x_train = features[sample].select(names)
    y_train = target[sample]
    clock = time.perf_counter()
    scorecard = fit_scorecard(x_train, y_train)
    card_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    gbm = fit_gbm(x_train, y_train)
    gbm_seconds = time.perf_counter() - clock
    print(
        f"training on {args.train_rows:,} rows: scorecard {card_seconds:.1f} s "
        f"({len(scorecard.features)} features kept), LightGBM {gbm_seconds:.1f} s"
    )

    parts: dict[str, float] = {}
    clock = time.perf_counter()
    scored = features_as_of(history, AS_OF)
    x = scored.select(names)
    parts["features"] = time.perf_counter() - clock
    clock = time.perf_counter()
    x_card = x.select(list(scorecard.features))
    points = scorecard.points(x_card)
    card_p = scorecard.probability(x_card)
    card_reasons = scorecard.reasons(x_card)
    parts["scorecard: points, probability, 3 reasons"] = time.perf_counter() - clock
    clock = time.perf_counter()
    x_gbm = x.select(list(gbm.features))
    gbm_p = gbm.probability(x_gbm)
    parts["LightGBM: probability"] = time.perf_counter() - clock
    clock = time.perf_counter()
    gbm_reasons = gbm.reasons(x_gbm)
    parts["LightGBM: 3 reasons (TreeSHAP)"] = time.perf_counter() - clock
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert len(points) == len(card_p) == len(gbm_p) == len(card_reasons) == len(gbm_reasons)
    print(f"scoring {args.accounts:,} accounts:")
    for name, seconds in parts.items():
        print(f"  {name:<44} {seconds:6.1f} s")
    print(f"  {'total':<44} {sum(parts.values()):6.1f} s; peak memory {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
