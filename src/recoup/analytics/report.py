"""The collection report: every measure of a date range in one self-contained HTML file.

:func:`build_report` computes the tables from frames the caller read (the store edge,
:mod:`recoup.store.analytics_reads`, or a test); :func:`commentary` says in a few plain
sentences what moved; :func:`render_html` lays it all out in English or Chinese. The page
needs nothing from the network: no script, no font, no image link. Its charts are inline SVG
drawn here (line charts for curves, bars for league tables) and its roll-rate matrices are
tables coloured by value. Every text goes through Jinja's autoescape.

The month ends of a report are those of the range plus the one just before it, so a range
holding one month end still has one month of movement: the roll-rate matrices and cure rates
compare the last two, the flow rates every consecutive pair, and the delinquency cohorts are
those entering at the range's month ends.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Literal

import jinja2
import polars as pl

from recoup.analytics.collection import (
    blocks_by_rule,
    contact_rates,
    cure_rates,
    flow_rates,
    promise_kept_rate,
    roll_rate_matrix,
    vintage_curves,
)
from recoup.analytics.performance import (
    ALL_CATEGORIES,
    ALL_CHANNELS,
    CostTable,
    collection_payments,
    complaints_by_category,
    complaints_by_channel,
    complaints_by_owner,
    cost_per_channel,
    league_table,
    recovery_curves,
)

Lang = Literal["en", "zh-CN"]
LANGS: tuple[str, ...] = ("en", "zh-CN")

#: The HTML sections, in page order (also their element ids).
SECTIONS: tuple[str, ...] = (
    "summary",
    "roll-rates",
    "flow-rates",
    "cure-rates",
    "recovery",
    "vintages",
    "promises",
    "contacts",
    "cost",
    "collectors",
    "agencies",
    "compliance",
    "complaints",
)


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """What the report reads, for ``from_day .. to_day`` (both included).

    - ``states``: ``account_key, as_of, dpd, bucket`` and the balance columns, at the month
      end before ``from_day`` and at every month end of the range;
    - ``accounts``: ``account_key, opened_on``;
    - ``payments``: ``account_key, paid_on, amount_cents`` paid in the range, reversals and
      reversed payments left out;
    - ``cases``: ``case_key, account_key, opened_on, closed_on, closed_because`` of the cases
      open at some time in the range;
    - ``allocations``: ``case_key, as_of, owner, owner_kind`` of the range;
    - ``credits``: ``owner, owner_kind, amount_cents`` credited in the range;
    - ``promises``: ``made_on, made_by, status`` of the promises made in the range;
    - ``attempts``: ``channel, at, outcome, collector, case_key`` of the range;
    - ``decisions``: ``allowed, violations`` of the contact gate's decisions in the range;
    - ``complaints``: ``received_at, channel, category, status, case_key`` of the complaints
      received in the range (their status as it is now).
    """

    from_day: date
    to_day: date
    buckets: tuple[str, ...]
    states: pl.DataFrame
    accounts: pl.DataFrame
    payments: pl.DataFrame
    cases: pl.DataFrame
    allocations: pl.DataFrame
    credits: pl.DataFrame
    promises: pl.DataFrame
    attempts: pl.DataFrame
    decisions: pl.DataFrame
    complaints: pl.DataFrame
    costs: CostTable
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Report:
    """The measures of a range: ``tables`` by name, in page order (one file each on export)."""

    from_day: date
    to_day: date
    buckets: tuple[str, ...]
    currency: str
    month_ends: tuple[date, ...]
    tables: dict[str, pl.DataFrame]
    recovered_cents: int
    blocked_decisions: int
    unpriced_channels: tuple[str, ...] = field(default=())
    costs_source: str = ""


def _month_ends(states: pl.DataFrame, from_day: date, to_day: date) -> tuple[date, ...]:
    days = (
        states.filter(pl.col("as_of") == pl.col("as_of").dt.month_end())
        .get_column("as_of")
        .unique()
        .sort()
        .to_list()
    )
    first = _previous(from_day.replace(day=1))
    return tuple(d for d in days if first <= d <= to_day)


def _previous(first_of_month: date) -> date:
    """The month end before ``first_of_month``."""
    year, month = divmod(first_of_month.year * 12 + first_of_month.month - 2, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def build_report(inputs: ReportInputs) -> Report:
    """Every table of the report, computed from ``inputs``."""
    if inputs.from_day > inputs.to_day:
        raise ValueError(f"the range starts ({inputs.from_day}) after it ends ({inputs.to_day})")
    buckets = list(inputs.buckets)
    month_ends = _month_ends(inputs.states, inputs.from_day, inputs.to_day)
    states = inputs.states.filter(pl.col("as_of").is_in(list(month_ends)))
    if len(month_ends) >= 2:
        start, end = month_ends[-2], month_ends[-1]
    else:  # no movement to show: the matrices keep their rows, all zeros
        start = end = month_ends[0] if month_ends else inputs.to_day
    paired = len(month_ends) >= 2
    empty_states = states.clear()
    pair_states = states if paired else empty_states
    collected = collection_payments(inputs.payments, inputs.cases)
    recovered = int(collected.get_column("amount_cents").sum() or 0)
    cost = cost_per_channel(inputs.attempts, inputs.costs, recovered)
    unpriced = tuple(
        cost.filter(pl.col("unit_cost_cents").is_null(), pl.col("channel") != ALL_CHANNELS)
        .get_column("channel")
        .to_list()
    )
    blocked = int(inputs.decisions.filter(pl.col("allowed") == 0).height)

    def league(kind: Literal["collector", "agency"]) -> pl.DataFrame:
        return league_table(
            inputs.allocations,
            inputs.credits,
            inputs.cases,
            inputs.promises,
            inputs.attempts,
            kind,
        )

    tables = {
        "roll_rates_count": roll_rate_matrix(pair_states, start, end, "count", buckets),
        "roll_rates_balance": roll_rate_matrix(pair_states, start, end, "balance", buckets),
        "flow_rates": flow_rates(states, month_ends, buckets),
        "cure_rates": cure_rates(pair_states, start, end, buckets),
        "recovery_curves": recovery_curves(states, inputs.payments, buckets, inputs.to_day),
        "vintage_curves": vintage_curves(states, inputs.accounts),
        "promise_kept": promise_kept_rate(inputs.promises, "month"),
        "contact_rates": contact_rates(inputs.attempts, inputs.timezone),
        "cost_per_channel": cost,
        "collectors": league("collector"),
        "agencies": league("agency"),
        "compliance_blocks": blocks_by_rule(inputs.decisions),
        "complaints_by_category": complaints_by_category(inputs.complaints, inputs.attempts.height),
        "complaints_by_channel": complaints_by_channel(inputs.complaints, inputs.attempts),
        "complaints_by_owner": complaints_by_owner(
            inputs.complaints, inputs.attempts, inputs.allocations, inputs.timezone
        ),
    }
    return Report(
        inputs.from_day,
        inputs.to_day,
        tuple(buckets),
        inputs.costs.currency,
        month_ends,
        tables,
        recovered,
        blocked,
        unpriced,
        inputs.costs.source,
    )


# --------------------------------------------------------------------------- words

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Collection report",
        "period": "{start} to {end}",
        "generated": "Month ends compared: {ends}.",
        "no_month_ends": "No month end falls in this range or just before it.",
        "summary": "What moved",
        "roll-rates": "Roll-rate matrices (迁徙率)",
        "roll_note": "Where the accounts of each bucket at {start} were at {end}.",
        "by_count": "By number of accounts",
        "by_balance": "By balance",
        "needs_two": "Needs two month ends in the range, or the range and the month before.",
        "flow-rates": "Flow rates",
        "flow_note": "Share of each bucket's balance one bucket worse a month later.",
        "cure-rates": "Cure rates",
        "cure_note": "Share of each bucket's accounts at {start} current at {end}.",
        "recovery": "Recovery curves",
        "recovery_note": "Share of the balance at entry repaid, by months after entering.",
        "vintages": "Vintage curves",
        "vintage_note": "Share of each origination month's accounts more than 30 days past due.",
        "promises": "Promises to pay",
        "contacts": "Contact rates by channel and hour",
        "contact_note": "Right-party contact rate per attempt, by local hour.",
        "cost": "Cost per yuan recovered",
        "cost_note": (
            "Attempts per channel at the unit costs of {source}; recovered: payments made "
            "while a case was open, {recovered}."
        ),
        "unpriced": "Channels without a unit cost (counted at no cost): {channels}.",
        "collectors": "Collectors",
        "agencies": "Agencies",
        "compliance": "Compliance blocks by rule",
        "compliance_note": "{blocked} contacts blocked by the gate in the range.",
        "complaints": "Complaints",
        "complaints_note": (
            "{count} complaints received in the range, {rate} per 1,000 contacts; {open} still "
            "open. A complaint counts for the collector or agency holding its case that day."
        ),
        "by_category": "By category",
        "by_channel": "By the channel it came through",
        "by_owner": "By collector and agency",
        "category": "category",
        "complaints_col": "complaints",
        "per_1000": "per 1,000 contacts",
        "still_open": "open",
        "resolved": "resolved",
        "owner_kind": "kind",
        "all_categories": "all categories",
        "chart_complaints": "Complaints by category",
        "category.contact_pressure": "contact pressure",
        "category.conduct": "conduct",
        "category.amount_disputed": "amount disputed",
        "category.data_privacy": "personal data",
        "category.other": "other",
        "kind.collector": "collector",
        "kind.agency": "agency",
        "nothing": "Nothing recorded in this range.",
        "from_bucket": "from",
        "closed": "(closed)",
        "bucket": "bucket",
        "accounts": "accounts",
        "cured": "cured",
        "cure_rate": "cure rate",
        "cohort": "entered at",
        "balance": "balance at entry",
        "months_after": "months after",
        "recovered": "recovered",
        "flowed": "flowed",
        "recovery_rate": "recovery",
        "vintage": "vintage",
        "months_on_book": "months on book",
        "bad_accounts": "past 30 days",
        "bad_rate": "share",
        "month": "month",
        "kept": "kept",
        "partly_kept": "partly kept",
        "broken": "broken",
        "open": "open",
        "judged": "judged",
        "kept_rate": "kept rate",
        "channel": "channel",
        "attempts": "attempts",
        "right_party": "right party",
        "right_party_rate": "right-party rate",
        "promise_rate": "promise rate",
        "contacts_col": "contacts",
        "unit_cost": "unit cost",
        "cost_col": "cost",
        "cost_per_yuan": "per yuan recovered",
        "owner": "owner",
        "amount_credited": "credited",
        "cases_worked": "cases worked",
        "promises_judged": "promises judged",
        "promise_kept_rate": "promise kept rate",
        "rule": "rule",
        "blocked": "blocked",
        "all_channels": "all channels",
        "chart_credited": "Amount credited",
        "chart_blocked": "Blocked contacts",
        "chart_cost": "Cost by channel",
        # commentary
        "rose": "{flow} roll rate rose from {a} to {b} in {month}.",
        "fell": "{flow} roll rate fell from {a} to {b} in {month}.",
        "held": "{flow} roll rate held at {a} through {month}.",
        "roll_single": "{flow} roll rate was {a} in {month}.",
        "best_worst": (
            "{who}: {best} was credited the most ({best_amount} on {best_cases} cases, "
            "cure rate {best_cure}); {worst} the least ({worst_amount} on {worst_cases} cases)."
        ),
        "only_one": "{who}: only {best} worked cases ({best_amount} credited).",
        "collectors_who": "Collectors",
        "agencies_who": "Agencies",
        "top_rule": (
            "The contact gate blocked most often under {rule}: {count} of {blocked} blocked "
            "contacts."
        ),
        "recovery_line": (
            "Accounts entering {bucket} at {cohort} repaid {rate} of their balance within "
            "{months} month(s)."
        ),
        "cost_line": "Contacts cost {per_yuan} per yuan recovered ({cost} for {recovered}).",
        "cost_nothing": "No payments came in on accounts in collection in this range.",
        "promise_line": "Promises kept: {rate} of {judged} judged.",
        "complaint_line": (
            "Complaints: {count} received ({rate} per 1,000 contacts), most about {category} "
            "({top})."
        ),
        "complaint_owner_line": (
            "{owner} drew the most complaints: {count} ({rate} per 1,000 of its contacts)."
        ),
        "no_commentary": "Too little history in this range for commentary.",
        "footer": "Generated by recoup report; the tables are also exported with --tables.",
        "na": "–",
    },
    "zh-CN": {
        "title": "催收报告",
        "period": "{start} 至 {end}",
        "generated": "对比的月末：{ends}。",
        "no_month_ends": "该区间及其前一月均无月末数据。",
        "summary": "主要变化",
        "roll-rates": "迁徙率矩阵",
        "roll_note": "{start} 各账龄组的账户在 {end} 所处的账龄组。",
        "by_count": "按账户数",
        "by_balance": "按余额",
        "needs_two": "需要区间内（或区间及前一月）有两个月末。",
        "flow-rates": "逐级迁徙率",
        "flow_note": "各账龄组余额在一个月后恶化一级的比例。",
        "cure-rates": "回正率",
        "cure_note": "{start} 各账龄组账户在 {end} 恢复正常的比例。",
        "recovery": "回收曲线",
        "recovery_note": "入组后第 k 个月累计回收占入组余额的比例。",
        "vintages": "账龄分析（Vintage）曲线",
        "vintage_note": "各放款月账户逾期超过30天的比例。",
        "promises": "承诺还款",
        "contacts": "各渠道、各时段联系率",
        "contact_note": "每次尝试的本人接通率，按当地时间的小时。",
        "cost": "每回收一元的成本",
        "cost_note": (
            "各渠道尝试次数乘以 {source} 的单价；回收额：案件存续期间的还款，{recovered}。"
        ),
        "unpriced": "未定价的渠道（按零成本计）：{channels}。",
        "collectors": "催收员排名",
        "agencies": "委外机构排名",
        "compliance": "合规拦截（按规则）",
        "compliance_note": "区间内被合规闸门拦截的联系共 {blocked} 次。",
        "complaints": "投诉",
        "complaints_note": (
            "区间内收到投诉 {count} 件，每千次联系 {rate} 件；仍未办结 {open} 件。"
            "投诉计入当日持有该案件的催收员或委外机构。"
        ),
        "by_category": "按类别",
        "by_channel": "按投诉渠道",
        "by_owner": "按催收员和委外机构",
        "category": "类别",
        "complaints_col": "投诉件数",
        "per_1000": "每千次联系",
        "still_open": "未办结",
        "resolved": "已办结",
        "owner_kind": "类型",
        "all_categories": "全部类别",
        "chart_complaints": "各类别投诉",
        "category.contact_pressure": "联系过频",
        "category.conduct": "催收行为",
        "category.amount_disputed": "金额争议",
        "category.data_privacy": "个人信息",
        "category.other": "其他",
        "kind.collector": "催收员",
        "kind.agency": "委外机构",
        "nothing": "该区间无记录。",
        "from_bucket": "起始",
        "closed": "（已结清）",
        "bucket": "账龄组",
        "accounts": "账户数",
        "cured": "回正",
        "cure_rate": "回正率",
        "cohort": "入组月末",
        "balance": "入组余额",
        "months_after": "入组后月数",
        "recovered": "累计回收",
        "flowed": "迁徙余额",
        "recovery_rate": "回收率",
        "vintage": "放款月",
        "months_on_book": "账龄（月）",
        "bad_accounts": "逾期30天以上",
        "bad_rate": "比例",
        "month": "月份",
        "kept": "兑现",
        "partly_kept": "部分兑现",
        "broken": "违约",
        "open": "未到期",
        "judged": "已判定",
        "kept_rate": "兑现率",
        "channel": "渠道",
        "attempts": "尝试次数",
        "right_party": "本人接通",
        "right_party_rate": "本人接通率",
        "promise_rate": "承诺率",
        "contacts_col": "联系次数",
        "unit_cost": "单价",
        "cost_col": "成本",
        "cost_per_yuan": "每回收一元成本",
        "owner": "名称",
        "amount_credited": "回收金额",
        "cases_worked": "经手案件",
        "promises_judged": "已判定承诺",
        "promise_kept_rate": "承诺兑现率",
        "rule": "规则",
        "blocked": "拦截次数",
        "all_channels": "全部渠道",
        "chart_credited": "回收金额",
        "chart_blocked": "拦截次数",
        "chart_cost": "各渠道成本",
        "rose": "{flow} 迁徙率在{month}由{a}升至{b}。",
        "fell": "{flow} 迁徙率在{month}由{a}降至{b}。",
        "held": "{flow} 迁徙率至{month}持平于{a}。",
        "roll_single": "{flow} 迁徙率在{month}为{a}。",
        "best_worst": (
            "{who}：{best} 回收最多（{best_amount}，经手 {best_cases} 件，回正率 {best_cure}）；"
            "{worst} 最少（{worst_amount}，经手 {worst_cases} 件）。"
        ),
        "only_one": "{who}：仅 {best} 经手案件（回收 {best_amount}）。",
        "collectors_who": "催收员",
        "agencies_who": "委外机构",
        "top_rule": "合规闸门拦截最多的规则是 {rule}：{blocked} 次拦截中占 {count} 次。",
        "recovery_line": "{cohort} 进入 {bucket} 的账户在 {months} 个月内回收了入组余额的 {rate}。",
        "cost_line": "每回收一元的联系成本为 {per_yuan}（成本 {cost}，回收 {recovered}）。",
        "cost_nothing": "该区间内催收中的账户没有还款。",
        "promise_line": "承诺兑现率：已判定 {judged} 笔中兑现 {rate}。",
        "complaint_line": (
            "投诉：收到 {count} 件（每千次联系 {rate} 件），最多的类别是{category}（{top} 件）。"
        ),
        "complaint_owner_line": "{owner} 收到的投诉最多：{count} 件（每千次联系 {rate} 件）。",
        "no_commentary": "该区间历史数据太少，暂无评述。",
        "footer": "由 recoup report 生成；各表格可用 --tables 导出。",
        "na": "–",
    },
}


def _words(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return _TEXT[lang]


def percent(rate: float | None) -> str:
    """A rate as a percentage: whole percents from 10% up, one decimal below."""
    if rate is None:
        return "–"
    return f"{rate:.0%}" if abs(rate) >= 0.095 else f"{rate:.1%}"


def money(cents: int | None, currency: str = "CNY") -> str:
    """Cents as ``¥1,234.56`` (CNY) or ``1,234.56 USD``."""
    if cents is None:
        return "–"
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    amount = f"{sign}{whole:,}.{frac:02d}"
    return f"¥{amount}" if currency == "CNY" else f"{amount} {currency}"


def _month_name(day: date, lang: str, with_year: bool) -> str:
    if lang == "zh-CN":
        return f"{day.year}年{day.month}月" if with_year else f"{day.month}月"
    name = calendar.month_name[day.month]
    return f"{name} {day.year}" if with_year else name


def _flow_label(start: str, end: str) -> str:
    return f"{start}→{end}"


def flow_commentary(flows: pl.DataFrame, buckets: Sequence[str], lang: str = "en") -> list[str]:
    """One sentence per flow: its biggest month-over-month change.

    ``flows`` is :func:`recoup.analytics.collection.flow_rates`' result. The rate of a month
    is the flow from the previous month end to that month's end; the change of a month is its
    rate less the previous month's. The biggest change (in size; the later month on a tie)
    is told as "rose" or "fell"; a flow that never changed "held"; a flow with one month
    says its rate. Flows with no rate are left out.
    """
    words = _words(lang)
    rated = flows.filter(pl.col("flow_rate").is_not_null())
    if rated.height == 0:
        return []
    years = {d.year for d in rated.get_column("next_as_of").to_list()}
    with_year = len(years) > 1
    sentences: list[str] = []
    for start, end in itertools.pairwise(buckets):
        series = (
            rated.filter(pl.col("from_bucket") == start)
            .sort("next_as_of")
            .select("next_as_of", "flow_rate")
            .rows()
        )
        if not series:
            continue
        flow = _flow_label(start, end)
        if len(series) == 1:
            day, rate = series[0]
            month = _month_name(day, lang, with_year)
            sentences.append(words["roll_single"].format(flow=flow, a=percent(rate), month=month))
            continue
        best: tuple[float, date, float, float] | None = None
        for (_, before), (day, after) in itertools.pairwise(series):
            change = after - before
            if best is None or abs(change) >= abs(best[0]):
                best = (change, day, before, after)
        assert best is not None
        change, day, before, after = best
        month = _month_name(day, lang, with_year)
        key = "held" if percent(before) == percent(after) else "rose" if change > 0 else "fell"
        sentences.append(
            words[key].format(flow=flow, a=percent(before), b=percent(after), month=month)
        )
    return sentences


def _league_sentence(table: pl.DataFrame, who: str, currency: str, words: dict[str, str]) -> str:
    rows = table.filter(pl.col("cases_worked") > 0).rows(named=True)
    if not rows:
        return ""
    best, worst = rows[0], rows[-1]
    if len(rows) == 1:
        return words["only_one"].format(
            who=who, best=best["owner"], best_amount=money(best["amount_credited_cents"], currency)
        )
    return words["best_worst"].format(
        who=who,
        best=best["owner"],
        best_amount=money(best["amount_credited_cents"], currency),
        best_cases=f"{best['cases_worked']:,}",
        best_cure=percent(best["cure_rate"]),
        worst=worst["owner"],
        worst_amount=money(worst["amount_credited_cents"], currency),
        worst_cases=f"{worst['cases_worked']:,}",
    )


def commentary(report: Report, lang: str = "en") -> list[str]:
    """Short plain sentences about the numbers: what moved, who led, what blocked."""
    words = _words(lang)
    tables = report.tables
    sentences = flow_commentary(tables["flow_rates"], report.buckets, lang)

    recovery = tables["recovery_curves"].filter(pl.col("recovery_rate").is_not_null())
    if recovery.height and len(report.buckets) > 1:
        first = recovery.filter(pl.col("bucket") == report.buckets[1])
        if first.height == 0:
            first = recovery
        row = first.sort("cohort", "months_after", descending=[False, True]).row(0, named=True)
        sentences.append(
            words["recovery_line"].format(
                bucket=row["bucket"],
                cohort=row["cohort"].isoformat(),
                rate=percent(row["recovery_rate"]),
                months=row["months_after"],
            )
        )

    promises = tables["promise_kept"]
    judged = int(promises.get_column("judged").sum() or 0)
    if judged:
        kept = int(promises.get_column("kept").sum() or 0)
        sentences.append(words["promise_line"].format(rate=percent(kept / judged), judged=judged))

    for name, who in (("collectors", "collectors_who"), ("agencies", "agencies_who")):
        sentence = _league_sentence(tables[name], words[who], report.currency, words)
        if sentence:
            sentences.append(sentence)

    blocks = tables["compliance_blocks"]
    if blocks.height:
        rule, count = blocks.row(0)
        sentences.append(
            words["top_rule"].format(
                rule=rule, count=f"{count:,}", blocked=report.blocked_decisions
            )
        )

    sentences.extend(_complaint_commentary(tables, words))

    total = tables["cost_per_channel"].filter(pl.col("channel") == ALL_CHANNELS).row(0, named=True)
    if total["contacts"]:
        if total["cost_per_yuan"] is None:
            sentences.append(words["cost_nothing"])
        else:
            sentences.append(
                words["cost_line"].format(
                    per_yuan=money_fraction(total["cost_per_yuan"], report.currency),
                    cost=money(total["cost_cents"], report.currency),
                    recovered=money(report.recovered_cents, report.currency),
                )
            )
    return sentences


def _complaint_commentary(tables: dict[str, pl.DataFrame], words: dict[str, str]) -> list[str]:
    """How many complaints, at what rate, mostly about what; who drew the most."""
    by_category = tables["complaints_by_category"]
    total = by_category.filter(pl.col("category") == ALL_CATEGORIES).row(0, named=True)
    if not total["complaints"]:
        return []
    top = by_category.row(0, named=True)  # most complaints first, then by name
    sentences = [
        words["complaint_line"].format(
            count=f"{total['complaints']:,}",
            rate=per_mille(total["complaints_per_1000_contacts"]),
            category=_category(words)(top["category"]),
            top=f"{top['complaints']:,}",
        )
    ]
    owners = tables["complaints_by_owner"].filter(pl.col("complaints") > 0)
    if owners.height:
        worst = owners.row(0, named=True)
        sentences.append(
            words["complaint_owner_line"].format(
                owner=worst["owner"],
                count=f"{worst['complaints']:,}",
                rate=per_mille(worst["complaints_per_1000_contacts"]),
            )
        )
    return sentences


def money_fraction(yuan: float, currency: str = "CNY") -> str:
    """A small amount per yuan with three decimals: ``¥0.031``."""
    return f"¥{yuan:.3f}" if currency == "CNY" else f"{yuan:.3f} {currency}"


# --------------------------------------------------------------------------- charts

_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
)


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    color: str
    segments: tuple[str, ...]  # SVG polyline points, one per run of known values
    dots: tuple[tuple[float, float, str], ...]  # x, y, tooltip


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    y_ticks: tuple[tuple[float, str], ...]  # y position, label
    x_ticks: tuple[tuple[float, str], ...]
    lines: tuple[Line, ...]
    title: str


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
) -> LineChart | None:
    """A line chart of rates (0 to at least 0, up to the largest value), one line per series.

    ``series`` holds a name and one value per x label (None: no point). None when there is
    nothing to draw.
    """
    values = [v for _, points in series for v in points if v is not None]
    if not values or not x_labels:
        return None
    width, height, left, top, right, bottom = 640, 280, 56, 16, 150, 36
    plot_width, plot_height = width - left - right, height - top - bottom
    top_value = max(max(values), 0.01)
    step = _nice_step(top_value / 4)
    y_max, ticks = step * 4, 4  # the step is at least a quarter of the top value

    def x_of(index: int) -> float:
        if len(x_labels) == 1:
            return left + plot_width / 2
        return left + plot_width * index / (len(x_labels) - 1)

    def y_of(value: float) -> float:
        return top + plot_height * (1 - value / y_max)

    lines: list[Line] = []
    for number, (name, points) in enumerate(series):
        segments: list[str] = []
        run: list[str] = []
        dots: list[tuple[float, float, str]] = []
        for index, value in enumerate(points):
            if value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            x, y = x_of(index), y_of(value)
            run.append(f"{x:.1f},{y:.1f}")
            dots.append((round(x, 1), round(y, 1), f"{name} {x_labels[index]}: {percent(value)}"))
        if run:
            segments.append(" ".join(run))
        lines.append(Line(name, _PALETTE[number % len(_PALETTE)], tuple(segments), tuple(dots)))
    every = max(1, len(x_labels) // 8)
    return LineChart(
        width,
        height,
        left,
        top,
        plot_width,
        plot_height,
        tuple((round(y_of(step * i), 1), percent(step * i)) for i in range(ticks + 1)),
        tuple(
            (round(x_of(i), 1), label)
            for i, label in enumerate(x_labels)
            if i % every == 0 or i == len(x_labels) - 1
        ),
        tuple(lines),
        title,
    )


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at least ``raw``."""
    magnitude = 10.0 ** _floor_log10(raw)
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * magnitude >= raw - 1e-12:
            return factor * magnitude
    return 10 * magnitude


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value_label: str
    y: float
    width: float


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    left: int
    bar_height: int
    bars: tuple[Bar, ...]
    title: str


def bar_chart(
    title: str, rows: Sequence[tuple[str, float, str]], limit: int = 15
) -> BarChart | None:
    """Horizontal bars: (label, value, value shown), the first ``limit`` rows. None if empty."""
    shown = list(rows)[:limit]
    if not shown:
        return None
    left, bar_height, gap, plot = 150, 18, 6, 360
    top_value = max((value for _, value, _ in shown), default=0) or 1
    bars = tuple(
        Bar(label, value_label, 8 + i * (bar_height + gap), plot * max(value, 0) / top_value)
        for i, (label, value, value_label) in enumerate(shown)
    )
    return BarChart(
        left + plot + 120, 16 + len(bars) * (bar_height + gap), left, bar_height, bars, title
    )


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    numeric: bool = False
    shade: str | None = None  # a background colour for heat maps


@dataclass(frozen=True, slots=True)
class TableView:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _heat(rate: float | None) -> str | None:
    if rate is None:
        return None
    level = min(max(rate, 0.0), 1.0)
    return f"rgba(214, 39, 40, {0.08 + 0.8 * level:.2f})" if level > 0 else None


Format = Callable[[Any], str]


def _table(frame: pl.DataFrame, columns: Sequence[tuple[str, str, Format]]) -> TableView:
    headers = tuple(header for _, header, _ in columns)
    rows = tuple(
        tuple(
            Cell(
                fmt(row[name]),
                numeric=isinstance(row[name], int | float) and not isinstance(row[name], bool),
            )
            for name, _, fmt in columns
        )
        for row in frame.iter_rows(named=True)
    )
    return TableView(headers, rows)


def _matrix(frame: pl.DataFrame, words: dict[str, str]) -> TableView:
    value_columns = [c for c in frame.columns if c != "from_bucket"]
    headers = (
        words["from_bucket"],
        *[words["closed"] if c == "(closed)" else c for c in value_columns],
    )
    rows = tuple(
        (
            Cell(row["from_bucket"]),
            *(Cell(percent(row[c]), numeric=True, shade=_heat(row[c])) for c in value_columns),
        )
        for row in frame.iter_rows(named=True)
    )
    return TableView(headers, rows)


def _hour_heatmap(rates: pl.DataFrame, words: dict[str, str]) -> TableView:
    hours = sorted(set(rates.get_column("hour").to_list()))
    headers = (words["channel"], *[f"{h:02d}" for h in hours])
    rows = []
    for channel in sorted(set(rates.get_column("channel").to_list())):
        by_hour = {
            r["hour"]: r["right_party_rate"]
            for r in rates.filter(pl.col("channel") == channel).iter_rows(named=True)
        }
        rows.append(
            (
                Cell(channel),
                *(
                    Cell(percent(by_hour.get(h)), numeric=True, shade=_heat(by_hour.get(h)))
                    for h in hours
                ),
            )
        )
    return TableView(headers, tuple(rows))


# --------------------------------------------------------------------------- page


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    notes: tuple[str, ...] = ()
    charts: tuple[LineChart | BarChart, ...] = ()
    tables: tuple[tuple[str, TableView], ...] = ()  # caption, table
    empty: bool = False


def _count(value: Any) -> str:
    return "–" if value is None else f"{value:,}"


def _sections(report: Report, lang: str) -> list[Section]:
    words = _words(lang)
    t = report.tables
    cur = report.currency

    def cash(value: Any) -> str:
        return money(value, cur)

    def day(value: Any) -> str:
        return "–" if value is None else value.isoformat()

    def month(value: Any) -> str:
        return "–" if value is None else value.strftime("%Y-%m")

    sections: list[Section] = []
    ends = report.month_ends
    paired = len(ends) >= 2
    start, end = (ends[-2].isoformat(), ends[-1].isoformat()) if paired else ("", "")

    sections.append(
        Section(
            "roll-rates",
            words["roll-rates"],
            (words["roll_note"].format(start=start, end=end),) if paired else (words["needs_two"],),
            tables=(
                (words["by_count"], _matrix(t["roll_rates_count"], words)),
                (words["by_balance"], _matrix(t["roll_rates_balance"], words)),
            )
            if paired
            else (),
            empty=not paired,
        )
    )

    flows = t["flow_rates"]
    x_days = sorted(set(flows.get_column("next_as_of").to_list()))
    series = []
    for a, b in zip(report.buckets[:-1], report.buckets[1:], strict=True):
        rates = {
            r["next_as_of"]: r["flow_rate"]
            for r in flows.filter(pl.col("from_bucket") == a).iter_rows(named=True)
        }
        if any(v is not None for v in rates.values()):
            series.append((_flow_label(a, b), [rates.get(d) for d in x_days]))
    chart = line_chart(words["flow-rates"], [d.strftime("%Y-%m") for d in x_days], series)
    sections.append(
        Section(
            "flow-rates",
            words["flow-rates"],
            (words["flow_note"],),
            charts=(chart,) if chart else (),
            tables=(
                (
                    "",
                    _table(
                        flows,
                        [
                            ("next_as_of", words["month"], month),
                            ("from_bucket", words["from_bucket"], str),
                            ("to_bucket", "→", str),
                            ("balance_cents", words["balance"], cash),
                            ("flowed_cents", words["flowed"], cash),
                            ("flow_rate", words["flow-rates"], percent),
                        ],
                    ),
                ),
            )
            if flows.height
            else (),
            empty=flows.height == 0,
        )
    )

    cures = t["cure_rates"]
    sections.append(
        Section(
            "cure-rates",
            words["cure-rates"],
            (words["cure_note"].format(start=start, end=end),) if paired else (words["needs_two"],),
            tables=(
                (
                    "",
                    _table(
                        cures,
                        [
                            ("from_bucket", words["bucket"], str),
                            ("accounts", words["accounts"], _count),
                            ("cured", words["cured"], _count),
                            ("cure_rate", words["cure_rate"], percent),
                        ],
                    ),
                ),
            )
            if paired
            else (),
            empty=not paired,
        )
    )

    recovery = t["recovery_curves"]
    months = sorted(set(recovery.get_column("months_after").to_list()))
    keys = recovery.select("cohort", "bucket").unique(maintain_order=True).rows()
    delinquent = set(report.buckets[1:4])
    curves = []
    for cohort, bucket in keys:
        if bucket not in delinquent:
            continue
        rates = {
            r["months_after"]: r["recovery_rate"]
            for r in recovery.filter(
                pl.col("cohort") == cohort, pl.col("bucket") == bucket
            ).iter_rows(named=True)
        }
        curves.append((f"{bucket} {cohort:%Y-%m}", [rates.get(m) for m in months]))
    chart = line_chart(words["recovery"], [str(m) for m in months], curves[:9])
    sections.append(
        Section(
            "recovery",
            words["recovery"],
            (words["recovery_note"],),
            charts=(chart,) if chart else (),
            tables=(
                (
                    "",
                    _table(
                        recovery,
                        [
                            ("cohort", words["cohort"], day),
                            ("bucket", words["bucket"], str),
                            ("accounts", words["accounts"], _count),
                            ("balance_cents", words["balance"], cash),
                            ("months_after", words["months_after"], _count),
                            ("recovered_cents", words["recovered"], cash),
                            ("recovery_rate", words["recovery_rate"], percent),
                        ],
                    ),
                ),
            )
            if recovery.height
            else (),
            empty=recovery.height == 0,
        )
    )

    vintages = t["vintage_curves"]
    mob = sorted(set(vintages.get_column("months_on_book").to_list()))
    recent = sorted(set(vintages.get_column("vintage").to_list()))[-8:]
    vintage_series = []
    for vintage in recent:
        rates = {
            r["months_on_book"]: r["bad_rate"]
            for r in vintages.filter(pl.col("vintage") == vintage).iter_rows(named=True)
        }
        vintage_series.append((f"{vintage:%Y-%m}", [rates.get(m) for m in mob]))
    chart = line_chart(words["vintages"], [str(m) for m in mob], vintage_series)
    sections.append(
        Section(
            "vintages",
            words["vintages"],
            (words["vintage_note"],),
            charts=(chart,) if chart else (),
            tables=(
                (
                    "",
                    _table(
                        vintages.filter(pl.col("vintage").is_in(recent)),
                        [
                            ("vintage", words["vintage"], month),
                            ("months_on_book", words["months_on_book"], _count),
                            ("accounts", words["accounts"], _count),
                            ("bad_accounts", words["bad_accounts"], _count),
                            ("bad_rate", words["bad_rate"], percent),
                        ],
                    ),
                ),
            )
            if vintages.height
            else (),
            empty=vintages.height == 0,
        )
    )

    promises = t["promise_kept"]
    sections.append(
        Section(
            "promises",
            words["promises"],
            tables=(
                (
                    "",
                    _table(
                        promises,
                        [
                            ("month", words["month"], month),
                            ("kept", words["kept"], _count),
                            ("partly_kept", words["partly_kept"], _count),
                            ("broken", words["broken"], _count),
                            ("open", words["open"], _count),
                            ("judged", words["judged"], _count),
                            ("kept_rate", words["kept_rate"], percent),
                        ],
                    ),
                ),
            )
            if promises.height
            else (),
            empty=promises.height == 0,
        )
    )

    contacts = t["contact_rates"]
    per_channel = (
        contacts.group_by("channel")
        .agg(pl.col("attempts", "right_party", "promises").sum())
        .with_columns(
            (pl.col("right_party") / pl.col("attempts")).alias("right_party_rate"),
            (pl.col("promises") / pl.col("attempts")).alias("promise_rate"),
        )
        .sort("channel")
    )
    sections.append(
        Section(
            "contacts",
            words["contacts"],
            (words["contact_note"],),
            tables=(
                (
                    "",
                    _table(
                        per_channel,
                        [
                            ("channel", words["channel"], str),
                            ("attempts", words["attempts"], _count),
                            ("right_party", words["right_party"], _count),
                            ("right_party_rate", words["right_party_rate"], percent),
                            ("promise_rate", words["promise_rate"], percent),
                        ],
                    ),
                ),
                (words["right_party_rate"], _hour_heatmap(contacts, words)),
            )
            if contacts.height
            else (),
            empty=contacts.height == 0,
        )
    )

    cost = t["cost_per_channel"]
    by_channel = cost.filter(pl.col("channel") != ALL_CHANNELS)
    notes = [
        words["cost_note"].format(
            source=_file_name(report.costs_source),
            recovered=money(report.recovered_cents, cur),
        )
    ]
    if report.unpriced_channels:
        notes.append(words["unpriced"].format(channels=", ".join(report.unpriced_channels)))
    chart_bars = bar_chart(
        words["chart_cost"],
        [
            (r["channel"], r["cost_cents"], cash(r["cost_cents"]))
            for r in by_channel.rows(named=True)
        ],
    )
    sections.append(
        Section(
            "cost",
            words["cost"],
            tuple(notes),
            charts=(chart_bars,) if chart_bars and by_channel.height else (),
            tables=(
                (
                    "",
                    _table(
                        cost.with_columns(
                            pl.col("channel").replace({ALL_CHANNELS: words["all_channels"]})
                        ),
                        [
                            ("channel", words["channel"], str),
                            ("contacts", words["contacts_col"], _count),
                            ("unit_cost_cents", words["unit_cost"], cash),
                            ("cost_cents", words["cost_col"], cash),
                            (
                                "cost_per_yuan",
                                words["cost_per_yuan"],
                                lambda v: "–" if v is None else money_fraction(v, cur),
                            ),
                        ],
                    ),
                ),
            )
            if by_channel.height
            else (),
            empty=by_channel.height == 0,
        )
    )

    for name in ("collectors", "agencies"):
        league = t[name]
        bars = bar_chart(
            words["chart_credited"],
            [
                (r["owner"], r["amount_credited_cents"], cash(r["amount_credited_cents"]))
                for r in league.rows(named=True)
            ],
        )
        sections.append(
            Section(
                name,
                words[name],
                charts=(bars,) if bars else (),
                tables=(
                    (
                        "",
                        _table(
                            league,
                            [
                                ("owner", words["owner"], str),
                                ("amount_credited_cents", words["amount_credited"], cash),
                                ("cases_worked", words["cases_worked"], _count),
                                ("cured", words["cured"], _count),
                                ("cure_rate", words["cure_rate"], percent),
                                ("promises_judged", words["promises_judged"], _count),
                                ("promise_kept_rate", words["promise_kept_rate"], percent),
                                ("contacts", words["contacts_col"], _count),
                            ],
                        ),
                    ),
                )
                if league.height
                else (),
                empty=league.height == 0,
            )
        )

    blocks = t["compliance_blocks"]
    bars = bar_chart(words["chart_blocked"], [(r, n, f"{n:,}") for r, n in blocks.rows()])
    sections.append(
        Section(
            "compliance",
            words["compliance"],
            (words["compliance_note"].format(blocked=f"{report.blocked_decisions:,}"),),
            charts=(bars,) if bars else (),
            tables=(
                (
                    "",
                    _table(
                        blocks,
                        [("rule", words["rule"], str), ("blocked", words["blocked"], _count)],
                    ),
                ),
            )
            if blocks.height
            else (),
            empty=blocks.height == 0,
        )
    )
    sections.append(_complaints_section(report, words))
    return sections


def per_mille(value: float | None) -> str:
    """A rate per 1,000 with one decimal: ``2.5``."""
    return "–" if value is None else f"{value:,.1f}"


def _category(words: dict[str, str]) -> Callable[[Any], str]:
    def name(value: Any) -> str:
        if value == ALL_CATEGORIES:
            return words["all_categories"]
        return words.get(f"category.{value}", str(value))

    return name


def _complaints_section(report: Report, words: dict[str, str]) -> Section:
    t = report.tables
    by_category = t["complaints_by_category"]
    total = by_category.filter(pl.col("category") == ALL_CATEGORIES).row(0, named=True)
    if not total["complaints"]:
        return Section("complaints", words["complaints"], empty=True)
    category = _category(words)
    note = words["complaints_note"].format(
        count=f"{total['complaints']:,}",
        rate=per_mille(total["complaints_per_1000_contacts"]),
        open=f"{total['open']:,}",
    )
    bars = bar_chart(
        words["chart_complaints"],
        [
            (category(r["category"]), r["complaints"], f"{r['complaints']:,}")
            for r in by_category.filter(pl.col("category") != ALL_CATEGORIES).rows(named=True)
        ],
    )
    by_channel = t["complaints_by_channel"].with_columns(
        pl.col("channel").replace({ALL_CHANNELS: words["all_channels"]})
    )
    by_owner = t["complaints_by_owner"].with_columns(
        pl.col("owner_kind").replace({k: words[f"kind.{k}"] for k in ("collector", "agency")})
    )
    tables = [
        (
            words["by_category"],
            _table(
                by_category,
                [
                    ("category", words["category"], category),
                    ("complaints", words["complaints_col"], _count),
                    ("open", words["still_open"], _count),
                    ("resolved", words["resolved"], _count),
                    ("complaints_per_1000_contacts", words["per_1000"], per_mille),
                ],
            ),
        ),
        (
            words["by_channel"],
            _table(
                by_channel,
                [
                    ("channel", words["channel"], str),
                    ("contacts", words["contacts_col"], _count),
                    ("complaints", words["complaints_col"], _count),
                    ("complaints_per_1000_contacts", words["per_1000"], per_mille),
                ],
            ),
        ),
    ]
    if by_owner.height:
        tables.append(
            (
                words["by_owner"],
                _table(
                    by_owner,
                    [
                        ("owner", words["owner"], str),
                        ("owner_kind", words["owner_kind"], str),
                        ("contacts", words["contacts_col"], _count),
                        ("complaints", words["complaints_col"], _count),
                        ("complaints_per_1000_contacts", words["per_1000"], per_mille),
                    ],
                ),
            )
        )
    return Section(
        "complaints",
        words["complaints"],
        (note,),
        charts=(bars,) if bars else (),
        tables=tuple(tables),
    )


def _file_name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1] or "default_costs.yaml"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("recoup.analytics", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report, lang: str = "en") -> str:
    """The report as one self-contained HTML page in ``lang`` (``en`` or ``zh-CN``)."""
    words = _words(lang)
    sections = _sections(report, lang)
    ends = ", ".join(d.isoformat() for d in report.month_ends)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            lang=lang,
            words=words,
            title=words["title"],
            period=words["period"].format(
                start=report.from_day.isoformat(), end=report.to_day.isoformat()
            ),
            month_ends=words["generated"].format(ends=ends) if ends else words["no_month_ends"],
            commentary=commentary(report, lang) or [words["no_commentary"]],
            sections=sections,
        )
    )
