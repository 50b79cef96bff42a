"""Contests: entrant export, re-evaluation of stored media, and the verifiable draw."""
