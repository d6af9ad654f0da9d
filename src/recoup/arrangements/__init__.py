"""Arrangements: repayment plans (restructure / re-age), settlements, waivers and offers."""
