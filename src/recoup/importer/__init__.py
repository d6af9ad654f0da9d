"""The portfolio import: a lender's products, borrowers, plans and payments into the store.

``recoup import DIR`` reads, from ``DIR`` (each file optional; CSV or Parquet, not both):

- ``products.yaml`` (see :mod:`recoup.products.spec`);
- ``borrowers``: ``borrower_id, name, phone`` and optionally ``email, region, timezone, address``;
- ``plans``: ``plan_id, account_id, borrower_id, product_id, principal, term, start_date``;
- ``payments``: ``payment_id, account_id, amount, paid_on`` and optionally ``reverses``.

The whole import is checked before anything is written and written in one transaction, so
a bad file changes nothing: :class:`ImportFailed` lists the problems by file, row and
column. Importing the same rows again adds nothing. The rules are in
:mod:`recoup.importer.checks`.
"""

from recoup.importer.issues import ImportFailed, ImportIssue
from recoup.importer.load import ImportSummary, import_directory

__all__ = ["ImportFailed", "ImportIssue", "ImportSummary", "import_directory"]
