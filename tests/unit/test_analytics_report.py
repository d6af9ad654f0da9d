"""The report: its commentary worked out by hand, its charts' geometry, and a page that is
self-contained and escapes what it shows."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import polars as pl
import pytest

from recoup.analytics.collection import flow_rates
from recoup.analytics.performance import CostTable
from recoup.analytics.report import (
    SECTIONS,
    ReportInputs,
    build_report,
    commentary,
    flow_commentary,
    line_chart,
    money,
    percent,
    render_html,
)

BUCKETS = ("M0", "M1", "M2")
JAN, FEB, MAR = date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)

STATE_SCHEMA = {
    "account_key": pl.Int64,
    "as_of": pl.Date,
    "dpd": pl.Int64,
    "bucket": pl.String,
    "outstanding_principal_cents": pl.Int64,
    "overdue_principal_cents": pl.Int64,
    "overdue_fee_cents": pl.Int64,
    "overdue_late_fee_cents": pl.Int64,
    "overdue_penalty_cents": pl.Int64,
}
DPD = {"M0": 0, "M1": 15, "M2": 45}


def _state(account: int, day: date, bucket: str) -> tuple[object, ...]:
    return (account, day, DPD[bucket], bucket, 100, 0, 0, 0, 0)


def _roll_states() -> pl.DataFrame:
    """Each account holds 100 cents. Accounts 1-100 are M1 at the end of January; 28 of them
    are M2 at the end of February (M1->M2 28% in February), the others current. Accounts
    101-200 are current in January, all M1 in February (M0->M1 100%), and 34 of them are M2
    in March (M1->M2 34% in March); everyone current in February stays current (M0->M1 0%)."""
    rows = []
    for account in range(1, 101):
        rows.append(_state(account, JAN, "M1"))
        rows.append(_state(account, FEB, "M2" if account <= 28 else "M0"))
        rows.append(_state(account, MAR, "M2" if account <= 28 else "M0"))
    for account in range(101, 201):
        rows.append(_state(account, JAN, "M0"))
        rows.append(_state(account, FEB, "M1"))
        rows.append(_state(account, MAR, "M2" if account <= 134 else "M0"))
    return pl.DataFrame(rows, schema=STATE_SCHEMA, orient="row")


def test_flow_commentary__m1_to_m2_rising_from_28_to_34_percent_in_march() -> None:
    flows = flow_rates(_roll_states(), [JAN, FEB, MAR], BUCKETS)

    assert flow_commentary(flows, BUCKETS, "en") == [
        "M0→M1 roll rate fell from 100% to 0.0% in March.",
        "M1→M2 roll rate rose from 28% to 34% in March.",
    ]
    assert flow_commentary(flows, BUCKETS, "zh-CN")[1] == "M1→M2 迁徙率在3月由28%升至34%。"


def test_flow_commentary__tells_the_biggest_change_and_a_flow_that_held() -> None:
    def flows(rates: list[float], first: date = date(2023, 12, 31)) -> pl.DataFrame:
        ends = [first, *[d for d in (date(2023, 12, 31), JAN, FEB, MAR) if d > first]]
        ends = ends[: len(rates) + 1]
        return pl.DataFrame(
            {
                "as_of": ends[:-1],
                "next_as_of": ends[1:],
                "from_bucket": ["M1"] * len(rates),
                "to_bucket": ["M2"] * len(rates),
                "balance_cents": [100] * len(rates),
                "flowed_cents": [int(r * 100) for r in rates],
                "flow_rate": rates,
            }
        )

    # +5 points in February, -10 in March: March is the biggest move.
    assert flow_commentary(flows([0.30, 0.35, 0.25]), BUCKETS) == [
        "M1→M2 roll rate fell from 35% to 25% in March."
    ]
    assert flow_commentary(flows([0.30, 0.30, 0.30]), BUCKETS) == [
        "M1→M2 roll rate held at 30% through March."
    ]
    assert flow_commentary(flows([0.3]), BUCKETS) == ["M1→M2 roll rate was 30% in January."]
    # Months in two years carry the year.
    assert flow_commentary(flows([0.2, 0.3], first=date(2023, 11, 30)), BUCKETS) == [
        "M1→M2 roll rate rose from 20% to 30% in January 2024."
    ]


def test_percent_and_money__as_a_reader_expects_them() -> None:
    assert [percent(0.28), percent(0.341), percent(0.041), percent(None)] == [
        "28%",
        "34%",
        "4.1%",
        "–",
    ]
    assert money(123456789) == "¥1,234,567.89"
    assert money(-5) == "¥-0.05"
    assert money(100, "USD") == "1.00 USD"


def test_line_chart__points_are_placed_on_the_scale_and_gaps_split_the_line() -> None:
    chart = line_chart("t", ["a", "b", "c"], [("s", [0.0, None, 0.4])])

    assert chart is not None
    # The scale goes to 0.4 (a step of 0.1 four times): 0 at the bottom, 0.4 at the top.
    assert [label for _, label in chart.y_ticks] == ["0.0%", "10%", "20%", "30%", "40%"]
    bottom, top = chart.top + chart.plot_height, chart.top
    left, right = chart.left, chart.left + chart.plot_width
    assert chart.lines[0].segments == (f"{left:.1f},{bottom:.1f}", f"{right:.1f},{top:.1f}")
    assert line_chart("t", ["a"], [("s", [None])]) is None


# --------------------------------------------------------------------------- the page

VIOLATIONS = json.dumps([{"rule": "CN-WINDOW", "message": "outside 08:00-21:00"}])


def _inputs(owner: str = "C1") -> ReportInputs:
    day = date(2024, 3, 10)
    return ReportInputs(
        from_day=date(2024, 2, 1),
        to_day=date(2024, 3, 31),
        buckets=BUCKETS,
        states=_roll_states(),
        accounts=pl.DataFrame(
            {"account_key": list(range(1, 201)), "opened_on": [date(2023, 6, 1)] * 200}
        ),
        payments=pl.DataFrame(
            {"account_key": [1], "paid_on": [day], "amount_cents": [10_000]},
            schema={"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
        ),
        cases=pl.DataFrame(
            {
                "case_key": [1, 2],
                "account_key": [1, 2],
                "opened_on": [date(2024, 2, 1)] * 2,
                "closed_on": [None, date(2024, 3, 20)],
                "closed_because": [None, "cured"],
            },
            schema={
                "case_key": pl.Int64,
                "account_key": pl.Int64,
                "opened_on": pl.Date,
                "closed_on": pl.Date,
                "closed_because": pl.String,
            },
        ),
        allocations=pl.DataFrame(
            {
                "case_key": [1, 2],
                "as_of": [date(2024, 2, 1)] * 2,
                "owner": [owner, "C2"],
                "owner_kind": ["collector"] * 2,
            }
        ),
        credits=pl.DataFrame(
            {"owner": [owner], "owner_kind": ["collector"], "amount_cents": [10_000]}
        ),
        promises=pl.DataFrame(
            {"made_on": [day, day], "made_by": [owner, owner], "status": ["kept", "broken"]}
        ),
        attempts=pl.DataFrame(
            {
                "channel": ["call", "call", "sms"],
                "at": [datetime(2024, 3, 10, 2, tzinfo=UTC)] * 3,
                "outcome": ["promise_to_pay", "no_answer", "delivered"],
                "collector": [owner, owner, None],
                "case_key": [1, 1, 2],
            }
        ),
        decisions=pl.DataFrame({"allowed": [0, 0, 1], "violations": [VIOLATIONS] * 2 + ["[]"]}),
        # Two complaints on case 1 (the owner's) about contact pressure, one resolved.
        complaints=pl.DataFrame(
            {
                "received_at": [datetime(2024, 3, 10, 3, tzinfo=UTC)] * 2,
                "channel": ["call", "sms"],
                "category": ["contact_pressure"] * 2,
                "status": ["open", "resolved"],
                "case_key": [1, 1],
            }
        ),
        costs=CostTable("CNY", {"call": 250, "sms": 5}, "costs.yaml"),
    )


def test_build_report__every_table_of_the_range() -> None:
    report = build_report(_inputs())

    assert report.month_ends == (JAN, FEB, MAR)
    assert list(report.tables) == [
        "roll_rates_count",
        "roll_rates_balance",
        "flow_rates",
        "cure_rates",
        "recovery_curves",
        "vintage_curves",
        "promise_kept",
        "contact_rates",
        "cost_per_channel",
        "collectors",
        "agencies",
        "compliance_blocks",
        "complaints_by_category",
        "complaints_by_channel",
        "complaints_by_owner",
    ]
    # The matrix compares the last two month ends: of February's M1 (accounts 101-200),
    # 34 are M2 and 66 current at the end of March.
    m1 = report.tables["roll_rates_count"].row(1, named=True)
    assert (m1["M0"], m1["M1"], m1["M2"]) == pytest.approx((0.66, 0.0, 0.34))
    assert report.recovered_cents == 10_000  # account 1 paid while its case was open
    assert report.blocked_decisions == 2


def test_commentary__says_what_moved_who_led_and_what_blocked() -> None:
    sentences = commentary(build_report(_inputs()), "en")

    assert "M1→M2 roll rate rose from 28% to 34% in March." in sentences
    assert "Promises kept: 50% of 2 judged." in sentences
    assert (
        "Collectors: C1 was credited the most (¥100.00 on 1 cases, cure rate 0.0%); "
        "C2 the least (¥0.00 on 1 cases)."
    ) in sentences
    assert (
        "The contact gate blocked most often under CN-WINDOW: 2 of 2 blocked contacts." in sentences
    )
    # Two calls at 2.50 and an SMS at 0.05 for 100.00 recovered.
    assert "Contacts cost ¥0.051 per yuan recovered (¥5.05 for ¥100.00)." in sentences
    # Two complaints over three contacts, both on C1's case, which C1 called twice.
    assert (
        "Complaints: 2 received (666.7 per 1,000 contacts), most about contact pressure (2)."
        in sentences
    )
    assert "C1 drew the most complaints: 2 (1,000.0 per 1,000 of its contacts)." in sentences
    zh = commentary(build_report(_inputs()), "zh-CN")
    assert "投诉：收到 2 件（每千次联系 666.7 件），最多的类别是联系过频（2 件）。" in zh


def test_render_html__a_self_contained_page_with_every_section() -> None:
    page = render_html(build_report(_inputs()), "en")

    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    assert page.count("<svg") >= 3  # flow rates, recovery, vintages, league and blocks
    assert "M1→M2 roll rate rose from 28% to 34% in March." in page
    assert "2 complaints received in the range, 666.7 per 1,000 contacts; 1 still open." in page
    assert "By collector and agency" in page


def test_render_html__escapes_what_it_shows() -> None:
    page = render_html(build_report(_inputs(owner="<script>alert('x')</script>")), "en")

    assert "<script" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_render_html__in_chinese() -> None:
    page = render_html(build_report(_inputs()), "zh-CN")

    assert '<html lang="zh-CN">' in page
    assert "迁徙率矩阵" in page
    complaints = page.split('id="complaints"')[1]
    assert "区间内收到投诉 2 件，每千次联系 666.7 件；仍未办结 1 件。" in complaints
    assert "<th>未办结</th>" in complaints and "未到期" not in complaints
    assert "M1→M2 迁徙率在3月由28%升至34%。" in page


def test_render_html__an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="en, zh-CN"):
        render_html(build_report(_inputs()), "fr")


def test_build_report__a_range_without_two_month_ends_says_so() -> None:
    inputs = _inputs()
    short = ReportInputs(
        **{
            **{f: getattr(inputs, f) for f in ReportInputs.__dataclass_fields__},
            "states": inputs.states.filter(pl.col("as_of") == MAR),
        }
    )
    report = build_report(short)

    assert report.tables["flow_rates"].height == 0
    assert report.tables["roll_rates_count"].drop("from_bucket").sum_horizontal().sum() == 0
    assert "Needs two month ends" in render_html(report, "en")


def test_render_html__a_range_without_complaints_says_nothing_was_recorded() -> None:
    inputs = _inputs()
    quiet = ReportInputs(
        **{
            **{f: getattr(inputs, f) for f in ReportInputs.__dataclass_fields__},
            "complaints": inputs.complaints.clear(),
        }
    )
    report = build_report(quiet)

    assert not any(s.startswith("Complaints") for s in commentary(report, "en"))
    section = render_html(report, "en").split('id="complaints"')[1]
    assert "Nothing recorded in this range." in section
    assert "<table" not in section
