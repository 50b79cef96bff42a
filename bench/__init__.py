"""The benchmark suite: ``python -m bench`` (``make bench``) runs it and writes RESULTS.md.

Layout: `scenarios` (the seeded worlds) → `harness` (simulator, database, virtual time) →
`worker` and `pyfacebook_user` (the contenders) → `measures` (pure arithmetic on run records)
→ `ratelimit` (one benchmark: runs and renders its section) → `runner` (the registry of
benchmarks, RESULTS.md, the command line).
"""
