"""Tests of the pure enrichment: contest rules and the verifiable draw."""
