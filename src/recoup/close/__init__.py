"""The daily close: aging the whole portfolio, one recorded run per window of days."""

from recoup.close.lock import CloseInProgress
from recoup.close.run import (
    PARTITION_ACCOUNTS,
    WindowResult,
    close_through,
    last_closed_day,
    recompute_all,
)

__all__ = [
    "PARTITION_ACCOUNTS",
    "CloseInProgress",
    "WindowResult",
    "close_through",
    "last_closed_day",
    "recompute_all",
]
