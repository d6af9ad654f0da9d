"""Analytics: portfolio measures computed from the ledger's state history."""
