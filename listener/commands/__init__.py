"""One-shot operator commands, one module per family: ``check``, ``token refresh``, ``quota``.

Each command opens what it needs (:mod:`listener.commands.tools`: the simulator in demo mode,
the store, the Graph clients), uses it and closes it in reverse order. It prints one line per
finding through :class:`~listener.commands.report.Report`, then a summary line; the exit code
is 0 only when there is no warning and no problem. Tokens and secrets are never printed or
logged. The contest commands, ``draw recheck`` among them, live in :mod:`listener.contests`.
"""
