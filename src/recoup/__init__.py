"""Recoup: a collections platform for overdue installment credit."""

__version__ = "0.1.0"
