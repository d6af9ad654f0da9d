"""The audit log keyed and sealed, on SQLite and PostgreSQL: someone who can write to the store
but has no audit key cannot edit an entry (even recomputing every later hash), delete one in
the middle or at the end, or strip the MACs, without `verify` finding it; entries written
before the key still verify, as unkeyed; a published head catches an old seal put back.

The tampering is done as a database administrator would: straight SQL on the tables, with the
public hash function but without the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from recoup.cli.main import main
from recoup.store import crypto
from recoup.store import tables as t
from recoup.store.engine import migrate_schema, open_store, upgrade_schema
from recoup.web import audit
from recoup.web.audit import GENESIS, Head

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OTHER_DATA_KEY = "A" * 43 + "="  # any well-formed key but the one in force


@pytest.fixture(autouse=True)
def environment_key() -> Iterator[None]:
    """Every test starts and ends on the environment's key (the development key here)."""
    crypto.set_data_key(None)
    yield
    crypto.set_data_key(None)


def _write(engine: sa.Engine, n: int, start: int = 0) -> list[int]:
    """Append ``n`` entries the way the application does; their sequence numbers."""
    with engine.begin() as conn:
        return [
            audit.append(
                conn, "tester", "test.entry", f"thing:{k}", {"n": k}, T0 + timedelta(minutes=k)
            )
            for k in range(start, start + n)
        ]


def _rows(conn: sa.Connection) -> list[sa.RowMapping]:
    log = t.audit_log
    return list(conn.execute(sa.select(log).order_by(log.c.seq)).mappings())


def _rechain(conn: sa.Connection, from_seq: int, macs: str = "keep") -> Head:
    """What an administrator without the key does after editing: recompute ``prev_hash`` and
    ``hash`` of every entry from ``from_seq`` on (``macs="strip"`` also empties their MACs);
    returns the new head."""
    log = t.audit_log
    prev = GENESIS
    rows = _rows(conn)
    for row in rows:
        seq = int(row["seq"])
        if seq >= from_seq:
            at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC)
            digest = audit.entry_hash(
                prev, at, row["actor"], row["action"], row["target"], row["detail"]
            )
            values: dict[str, object] = {"prev_hash": prev, "hash": digest}
            if macs == "strip":
                values["mac"] = None
            conn.execute(log.update().where(log.c.seq == seq).values(values))
            prev = digest
        else:
            prev = row["hash"]
    return Head(int(rows[-1]["seq"]), prev)


def _seal_row(conn: sa.Connection) -> dict[str, object]:
    return dict(conn.execute(sa.select(t.audit_seal)).mappings().one())


# --------------------------------------------------------------------------- intact


def test_verify__an_intact_chain_verifies_every_mac_and_ends_at_its_seal(
    store: sa.Engine,
) -> None:
    seqs = _write(store, 5)
    with store.connect() as conn:
        verdict = audit.verify(conn)
        rows = _rows(conn)
        seal = _seal_row(conn)
        published = audit.current_head(conn)
    assert verdict.intact and verdict.broken_at is None
    assert (verdict.entries, verdict.unkeyed) == (5, 0)
    assert verdict.reason == "5 entries, chain intact"
    assert verdict.head == Head(seqs[-1], rows[-1]["hash"]) == published
    key = audit.audit_key()
    assert [r["mac"] for r in rows] == [audit.entry_mac(key, r["seq"], r["hash"]) for r in rows]
    assert (seal["last_seq"], seal["last_hash"], seal["entries"]) == (
        seqs[-1],
        rows[-1]["hash"],
        5,
    )
    assert seal["broken_at"] is None and seal["unkeyed_through"] == 0


def test_verify__the_audit_key_is_not_the_data_key_and_another_key_fails(
    store: sa.Engine,
) -> None:
    _write(store, 3)
    with store.connect() as conn:
        verdict = audit.verify(conn, key=audit.audit_key(OTHER_DATA_KEY))
    assert audit.audit_key() != audit.audit_key(OTHER_DATA_KEY)
    assert audit.audit_key() != crypto.data_key().encode()
    assert not verdict.intact and "another key" in verdict.reason


def test_append__rolls_back_with_the_callers_transaction_seal_and_all(
    store: sa.Engine,
) -> None:
    seqs = _write(store, 2)
    with store.connect() as conn:
        before = _seal_row(conn)
    with store.connect() as conn, conn.begin() as tx:
        audit.append(conn, "tester", "test.entry", "thing:x", {}, T0)
        assert _seal_row(conn)["entries"] == 3
        tx.rollback()
    with store.connect() as conn:
        assert _seal_row(conn) == before
        verdict = audit.verify(conn)
    assert verdict.intact and verdict.entries == 2 and verdict.head is not None
    assert verdict.head.seq == seqs[-1]


def test_verify__entries_appended_while_it_walks_are_walked_too_not_taken_for_a_break(
    store: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(store, 3)
    read_seal = audit.read_seal
    calls = 0

    def read_seal_after_a_concurrent_append(
        conn: sa.Connection, key: bytes | None = None
    ) -> audit.StoredSeal | None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the walk has reached the end it saw: another writer commits two more
            _write(store, 2, start=3)
        return read_seal(conn, key)

    monkeypatch.setattr(audit, "read_seal", read_seal_after_a_concurrent_append)
    with store.connect() as conn:
        verdict = audit.verify(conn, batch=2)
    assert calls >= 3
    assert verdict.intact and verdict.entries == 5, verdict.reason


# --------------------------------------------------------------------------- edits


def test_verify__an_entry_edited_with_every_later_hash_recomputed_is_found_by_its_mac(
    store: sa.Engine,
) -> None:
    seqs = _write(store, 6)
    log = t.audit_log
    with store.begin() as conn:
        conn.execute(log.update().where(log.c.seq == seqs[2]).values(detail='{"n": 99}'))
        head = _rechain(conn, seqs[2])
        # and the seal moved to the recomputed head, as far as that goes without the key
        conn.execute(t.audit_seal.update().values(last_hash=head.hash))
        verdict = audit.verify(conn)
    # The plain chain is consistent again: only the MAC gives the edit away, at the edit.
    assert (verdict.intact, verdict.broken_at) == (False, seqs[2])
    assert "does not match its MAC" in verdict.reason and "edited" in verdict.reason


def test_verify__macs_stripped_after_a_rewrite_do_not_pass_as_old_entries(
    store: sa.Engine,
) -> None:
    seqs = _write(store, 4)
    log = t.audit_log
    with store.begin() as conn:
        conn.execute(log.update().where(log.c.seq == seqs[0]).values(detail='{"n": 99}'))
        head = _rechain(conn, seqs[0], macs="strip")
        verdict = audit.verify(conn)
        conn.execute(t.audit_seal.update().values(last_hash=head.hash))
        resealed = audit.verify(conn)  # without the key the seal cannot follow
    assert (verdict.intact, verdict.broken_at) == (False, seqs[0])
    assert "has no MAC" in verdict.reason
    assert not resealed.intact and "the seal does not match its MAC" in resealed.reason


def test_verify__an_edited_seal_is_found(store: sa.Engine) -> None:
    seqs = _write(store, 3)
    with store.begin() as conn:
        conn.execute(t.audit_seal.update().values(entries=2))
        verdict = audit.verify(conn)
    assert (verdict.intact, verdict.broken_at) == (False, seqs[-1])
    assert "the seal does not match its MAC" in verdict.reason


# --------------------------------------------------------------------------- deletions


def test_verify__a_deleted_middle_entry_breaks_the_next_link(store: sa.Engine) -> None:
    seqs = _write(store, 5)
    log = t.audit_log
    with store.begin() as conn:
        conn.execute(log.delete().where(log.c.seq == seqs[2]))
        verdict = audit.verify(conn)
    assert (verdict.intact, verdict.broken_at) == (False, seqs[3])
    assert "does not link" in verdict.reason


def test_verify__a_deleted_tail_leaves_the_log_short_of_its_seal(store: sa.Engine) -> None:
    seqs = _write(store, 5)
    log = t.audit_log
    with store.begin() as conn:
        conn.execute(log.delete().where(log.c.seq >= seqs[3]))
        verdict = audit.verify(conn)
        with pytest.raises(audit.SealError):
            audit.current_head(conn)
    assert (verdict.intact, verdict.broken_at, verdict.entries) == (False, seqs[-1], 3)
    assert f"ends at entry {seqs[2]} but the seal names entry {seqs[-1]}" in verdict.reason
    assert "deleted" in verdict.reason


def test_verify__appending_after_a_deleted_tail_does_not_hide_it(store: sa.Engine) -> None:
    seqs = _write(store, 5)
    log = t.audit_log
    with store.begin() as conn:
        conn.execute(log.delete().where(log.c.seq >= seqs[3]))
    later = _write(store, 2, start=10)  # the application goes on writing
    with store.connect() as conn:
        verdict = audit.verify(conn)
        seal = _seal_row(conn)
    assert (verdict.intact, verdict.broken_at) == (False, seqs[-1])
    assert f"when entry {later[0]} was appended the log ended at entry {seqs[2]}" in (
        verdict.reason
    )
    assert seal["entries"] == 7  # counted from seal to seal, not in the table (5 rows left)


def test_verify__every_entry_and_the_seal_deleted_is_found(store: sa.Engine) -> None:
    _write(store, 3)
    with store.begin() as conn:
        conn.execute(t.audit_log.delete())
        emptied = audit.verify(conn)
        conn.execute(t.audit_seal.delete())
        unsealed = audit.verify(conn)
    assert not emptied.intact and "deleted" in emptied.reason
    assert not unsealed.intact and "the seal (table audit_seal) is missing" in unsealed.reason


def test_append__a_missing_seal_is_recorded_in_the_new_one(store: sa.Engine) -> None:
    _write(store, 3)
    with store.begin() as conn:
        conn.execute(t.audit_seal.delete())
    [seq] = _write(store, 1, start=3)
    with store.connect() as conn:
        verdict = audit.verify(conn)
    assert not verdict.intact
    assert f"the seal was missing when entry {seq} was appended" in verdict.reason


# --------------------------------------------------------------------------- published head


def test_verify__expect_head_catches_an_old_seal_put_back_with_a_cut_back_log(
    store: sa.Engine,
) -> None:
    first = _write(store, 2)
    with store.connect() as conn:
        old_seal = _seal_row(conn)
    seqs = _write(store, 3, start=2)
    with store.connect() as conn:
        published = audit.current_head(conn)  # e.g. after entry 5, sent to the auditors
        assert audit.verify(conn, expect_head=published).intact
    assert published.seq == seqs[-1]
    extra = _write(store, 1, start=5)
    with store.connect() as conn:
        grown = audit.verify(conn, expect_head=published)  # the log went on: still fine
    assert grown.intact and grown.head is not None and grown.head.seq == extra[0]
    with store.begin() as conn:  # cut back to the old seal, which is genuine
        conn.execute(t.audit_log.delete().where(t.audit_log.c.seq >= seqs[0]))
        conn.execute(t.audit_seal.update().values(old_seal))
        unaided = audit.verify(conn)
        verdict = audit.verify(conn, expect_head=published)
        rewritten = audit.verify(conn, expect_head=Head(first[-1], "f" * 64))
    assert unaided.intact  # what no key can catch on its own
    assert (verdict.intact, verdict.broken_at) == (False, published.seq)
    assert "the expected head, is not in the log" in verdict.reason
    assert (rewritten.intact, rewritten.broken_at) == (False, first[-1])
    assert "is not the expected head" in rewritten.reason


# --------------------------------------------------------------------------- before the key


def _write_unkeyed(engine: sa.Engine, n: int) -> list[int]:
    """Entries as the code before migration 0013 wrote them: hash-chained, no MAC."""
    log = sa.table(
        "audit_log",
        *(
            sa.column(c)
            for c in ("seq", "at", "actor", "action", "target", "detail", "prev_hash", "hash")
        ),
    )
    prev, seqs = GENESIS, []
    with engine.begin() as conn:
        for k in range(n):
            at, detail = T0 + timedelta(minutes=k), json.dumps({"n": k})
            digest = audit.entry_hash(prev, at, "old", "old.entry", f"thing:{k}", detail)
            seq = conn.execute(
                log.insert()
                .values(
                    at=at,
                    actor="old",
                    action="old.entry",
                    target=f"thing:{k}",
                    detail=detail,
                    prev_hash=prev,
                    hash=digest,
                )
                .returning(log.c.seq)
            ).scalar_one()
            seqs.append(int(seq))
            prev = digest
    return seqs


def test_migration__seals_an_existing_chain_whose_entries_verify_as_unkeyed(
    store: sa.Engine,
) -> None:
    migrate_schema(store, "0012", downgrade=True)
    old = _write_unkeyed(store, 3)
    upgrade_schema(store)
    with store.connect() as conn:
        sealed = _seal_row(conn)
        upgraded = audit.verify(conn)
    assert (sealed["last_seq"], sealed["entries"], sealed["unkeyed_through"]) == (
        old[-1],
        3,
        old[-1],
    )
    assert upgraded.intact and (upgraded.entries, upgraded.unkeyed) == (3, 3)
    new = _write(store, 2, start=3)
    with store.connect() as conn:
        grown = audit.verify(conn)
    assert grown.intact and (grown.entries, grown.unkeyed) == (5, 3)
    assert grown.head is not None and grown.head.seq == new[-1]


def test_migration__an_old_entry_rewritten_is_still_found(store: sa.Engine) -> None:
    migrate_schema(store, "0012", downgrade=True)
    old = _write_unkeyed(store, 3)
    upgrade_schema(store)
    log = t.audit_log
    with store.connect() as conn:  # no keyed entry yet: only the seal vouches for the old ones
        conn.execute(log.update().where(log.c.seq == old[1]).values(detail='{"n": 99}'))
        _rechain(conn, old[1])
        only_sealed = audit.verify(conn)
        conn.rollback()
    assert (only_sealed.intact, only_sealed.broken_at) == (False, old[-1])
    assert "the log was rewritten" in only_sealed.reason
    new = _write(store, 2, start=3)
    with store.begin() as conn:  # keyed entries after them: the first one's MAC fails
        conn.execute(log.update().where(log.c.seq == old[1]).values(detail='{"n": 99}'))
        _rechain(conn, old[1])
        rewritten = audit.verify(conn)
    assert (rewritten.intact, rewritten.broken_at) == (False, new[0])
    assert "does not match its MAC" in rewritten.reason


def test_migration__a_mac_stripped_from_a_new_entry_is_not_taken_for_an_old_one(
    store: sa.Engine,
) -> None:
    migrate_schema(store, "0012", downgrade=True)
    _write_unkeyed(store, 2)
    upgrade_schema(store)
    new = _write(store, 2, start=2)
    with store.begin() as conn:
        conn.execute(t.audit_log.update().values(mac=None))
        verdict = audit.verify(conn)
    assert (verdict.intact, verdict.broken_at) == (False, new[0])
    assert "has no MAC" in verdict.reason


def test_migration__an_empty_log_is_sealed_empty_and_the_downgrade_drops_the_seal(
    store: sa.Engine,
) -> None:
    migrate_schema(store, "0012", downgrade=True)
    with store.connect() as conn:
        assert "audit_seal" not in sa.inspect(conn).get_table_names()
        assert "mac" not in {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}
    upgrade_schema(store)
    with store.connect() as conn:
        seal = _seal_row(conn)
        verdict = audit.verify(conn)
        assert audit.current_head(conn) == audit.EMPTY
    assert (seal["last_seq"], seal["last_hash"], seal["entries"]) == (0, GENESIS, 0)
    assert verdict.intact and verdict.entries == 0


# --------------------------------------------------------------------------- the commands


def test_cli__verify_and_head_print_and_exit_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("RECOUP_DATABASE_URL", url)
    engine = open_store(url)
    seqs = _write(engine, 3)
    assert main(["audit", "head"]) == 0
    published = capsys.readouterr().out.strip()
    assert Head.parse(published).seq == seqs[-1]

    assert main(["audit", "verify", "--expect-head", published]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "audit log: 3 entries, chain intact"
    assert any(line.startswith(f"head: {published}") for line in lines)

    wrong = f"{seqs[-1]}:{'0' * 64}"
    assert main(["audit", "verify", "--expect-head", wrong]) == 1
    assert capsys.readouterr().out.startswith(
        f"audit log BROKEN: entry {seqs[-1]} is not the expected head"
    )

    with engine.begin() as conn:
        conn.execute(t.audit_log.delete().where(t.audit_log.c.seq == seqs[-1]))
    assert main(["audit", "verify"]) == 1
    assert "entries at its end were deleted" in capsys.readouterr().out
    assert main(["audit", "head"]) == 2
    assert "recoup audit verify" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "verify", "--expect-head", "3:abc"])
    engine.dispose()
