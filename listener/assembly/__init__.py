"""The parts every entry point is built from: the store, the Graph clients, and (for the
worker) the pollers, the scheduler, the web runner and the cluster parts.

Each factory takes keyword arguments only, with the seams a test or a benchmark replaces
(``clock``, ``sleep``, ``wait``, ``rng``). The worker (:mod:`listener.app`), the one-shot
commands (:mod:`listener.commands`, :mod:`listener.contests`), the benchmarks and the tests
build from these, so the wiring exists once.
"""
