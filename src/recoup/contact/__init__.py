"""Contact: carrying out the strategy's actions lawfully, and keeping the record.

- the gate's word on every planned, queued or manual contact, stored (``gatekeeping``),
  reading each borrower's holds, contact points and history in bulk (``book``);
- attempts and outcomes recorded through one service (``outcomes``), holds (``flags``);
- the outbox: messages rendered from templates (``templates``), sent at most once through
  the channel adapters (``smtp``, ``webhook``, ``letters``, ``tasks``), delivery callbacks
  and opt-out replies (``outbox``);
- quality inspection of collectors' notes (``quality``) and retention (``records``).

The rules themselves are the pure core :mod:`recoup.compliance`; this package is its edge.
"""
