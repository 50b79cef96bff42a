"""Contests: settling verdicts of stored media, entrant export, the draw and its certificate."""
