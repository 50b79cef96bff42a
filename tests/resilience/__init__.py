"""Resilience tests: real worker processes killed, starved of MongoDB or of the Graph API."""
