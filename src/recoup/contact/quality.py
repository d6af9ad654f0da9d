"""Quality inspection (质检) of the notes and transcripts collectors recorded with their
contact attempts: each is scanned with the content rules (:mod:`recoup.compliance.content`),
and each collector gets a score and a list of flagged contacts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance.content import Note, QualityReport, inspect_notes
from recoup.store import tables as t

_CJK = re.compile(r"[\u3400-\u9fff]")


def note_language(text: str) -> str:
    """``zh`` when the note has Chinese characters, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


def inspect_stored_notes(
    conn: Connection, since: date | None = None, until: date | None = None
) -> QualityReport:
    """Scan the notes of attempts made from ``since`` through ``until`` (both optional)."""
    ca = t.contact_attempts
    query = sa.select(ca.c.attempt_key, ca.c.collector, ca.c.note).where(
        ca.c.note.is_not(None), ca.c.collector.is_not(None)
    )
    if since is not None:
        query = query.where(ca.c.at >= datetime.combine(since, time(), UTC))
    if until is not None:
        query = query.where(ca.c.at < datetime.combine(until + timedelta(days=1), time(), UTC))
    notes = [
        Note(contact_id=str(key), collector=collector, text=text, lang=note_language(text))
        for key, collector, text in conn.execute(query.order_by(ca.c.attempt_key))
    ]
    return inspect_notes(notes)
