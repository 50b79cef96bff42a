"""Pure budget, pacing and throttle arithmetic, and the thin async shells around it."""
