"""Tests of the pure rate-limit arithmetic and the hashtag slot ledger."""
