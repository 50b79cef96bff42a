"""Tests of the pure enrichment: sentiment, contest rules and the verifiable draw."""
