"""Scripted transient faults: a queue of misbehaviours the next matching calls will suffer (pure).

Kinds:

- ``http_500``: HTTP 500 with an HTML body (a proxy in front of the API failed).
- ``code_1``: HTTP 500, Graph error code 1 ("An unknown error has occurred.").
- ``code_2``: HTTP 503, Graph error code 2 with ``"is_transient": true``.
- ``delay``: the call is answered normally, but only after ``delay_s`` seconds (the HTTP shell
  sleeps; the world never does).
- ``malformed``: HTTP 200 with a body of the wrong shape, ``{"data": "oops"}``.
- ``not_json``: HTTP 200 with an HTML page (a captive portal or proxy answering for Meta).
- ``deep_json``: HTTP 200 with JSON nested 100,000 levels deep, more than any parser recurses.
- ``repeat_page``: a paging answer whose ``next`` repeats the request just made (on ``/tags``:
  whose ``after`` cursor repeats the request's), so clients must stop on a repeated cursor.
  Only calls to a paging endpoint consume it.

A batch of faults applies to calls of ``endpoint`` (any endpoint when ``None``): the first
``skip`` matching calls pass unharmed, the ``count`` after them suffer ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

FaultKind = Literal[
    "http_500", "code_1", "code_2", "delay", "malformed", "not_json", "deep_json", "repeat_page"
]
FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))
# Faults that replace the answer entirely: the call never reaches the world's rules.
REPLACING: Final = frozenset({"http_500", "code_1", "code_2", "malformed", "not_json", "deep_json"})
MALFORMED: Final = frozenset({"malformed", "not_json", "deep_json"})
"""Faults answered 200 with a body the client cannot use."""
DEEP_JSON_LEVELS: Final = 100_000


@dataclass(frozen=True)
class Fault:
    """One kind of misbehaviour."""

    kind: FaultKind
    endpoint: str | None = None
    delay_s: float = 0.0


@dataclass
class _Batch:
    fault: Fault
    skip: int
    count: int


class FaultQueue:
    """Batches of faults waiting for calls, first queued first served."""

    def __init__(self) -> None:
        self._batches: list[_Batch] = []

    def add(self, fault: Fault, count: int, skip: int = 0) -> None:
        """Let ``skip`` matching calls pass, then make ``count`` suffer ``fault``."""
        self._batches.append(_Batch(fault, skip, count))

    def take(self, endpoint: str, *, paging: bool) -> Fault | None:
        """The fault a call of ``endpoint`` suffers, if any; every batch it matches counts it."""
        for batch in self._batches:
            fault = batch.fault
            if fault.endpoint not in (None, endpoint):
                continue
            if fault.kind == "repeat_page" and not paging:
                continue
            if batch.skip > 0:
                batch.skip -= 1
                continue
            batch.count -= 1
            if batch.count == 0:
                self._batches.remove(batch)
            return fault
        return None

    def __len__(self) -> int:
        return sum(batch.count for batch in self._batches)
