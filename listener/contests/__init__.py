"""Contests: entrant export, re-evaluation of stored media, the draw and its certificate."""
