"""Meta's rate-limit usage headers, read into numbers (pure; never raises).

This module owns the wire format of the two headers the governor listens to (reference §4):

- ``X-App-Usage`` reports the app's Platform rate limit, the one pool every hashtag call of the
  app draws on: ``{"call_count":28,"total_time":25,"total_cputime":25}``, whole-number
  percentages; Meta throttles once any of them reaches 100.
- ``X-Business-Use-Case-Usage`` reports Business Use Case limits, keyed by business object id
  (the Instagram account), one entry per use-case type:
  ``{"<id>":[{"type":"instagram","call_count":100,"total_cputime":25,"total_time":25,
  "estimated_time_to_regain_access":19}]}``. Only ``"instagram"`` entries concern us, and
  ``estimated_time_to_regain_access`` is "Time, in minutes, until calls will not longer be
  throttled".

The headers are advisory and Meta changes them without notice (a new field once crashed
pyfacebook, its issue #240; graph.instagram.com has answered ``X-App-Usage`` as
``{"call_volume":0,"cpu_time":0}``), so reading is lenient but never silent: the known
:data:`SYNONYMS` are read as the figures they name, a missing number reads as 0, numbers sent
as strings are accepted, and every unknown key is a problem. An entry whose only figures are
under unknown keys is not read at all (``None``): reading it as 0 would say "idle" about an
account that may be at its limit. Nothing is ever raised: what could be read is kept and each
problem is listed in ``problems`` (bounded text, never the whole header) so that the caller
can count and log it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

APP_HEADER: Final = "X-App-Usage"
BUC_HEADER: Final = "X-Business-Use-Case-Usage"
INSTAGRAM_TYPE: Final = "instagram"
USAGE_FIELDS: Final = ("call_count", "total_time", "total_cputime")
REGAIN_FIELD: Final = "estimated_time_to_regain_access"
SYNONYMS: Final = {"call_volume": "call_count", "cpu_time": "total_cputime"}
"""Other names Meta has sent the figures under (graph.instagram.com's ``X-App-Usage``)."""
_FIGURE_KEYS: Final = frozenset(USAGE_FIELDS) | frozenset(SYNONYMS)
_APP_KEYS: Final = _FIGURE_KEYS | {REGAIN_FIELD}
_BUC_KEYS: Final = _APP_KEYS | {"type"}

# Problems end up in logs: quote at most this much of a bad value.
_QUOTE_CHARS: Final = 40


@dataclass(frozen=True)
class Usage:
    """One scope's usage as Meta reports it: percentages of the budget (0–100, more when over).

    ``regain_s`` is Meta's estimate of when calls stop being throttled, in seconds; ``None`` when
    Meta gives none (always for ``X-App-Usage``).
    """

    call_count: float
    total_time: float
    total_cputime: float
    regain_s: float | None = None

    def ratio(self) -> float:
        """The share of the budget used, 1.0 = throttled: Meta throttles on whichever is highest."""
        return max(self.call_count, self.total_time, self.total_cputime) / 100.0

    def metrics(self) -> dict[str, float]:
        """Each of the three percentages as a ratio, keyed by Meta's field name."""
        return {
            "call_count": self.call_count / 100.0,
            "total_time": self.total_time / 100.0,
            "total_cputime": self.total_cputime / 100.0,
        }


@dataclass(frozen=True)
class ParsedUsage:
    """``X-App-Usage`` as read: the usage (``None`` if absent or unreadable) and what was wrong."""

    usage: Usage | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedBucUsage:
    """``X-Business-Use-Case-Usage`` as read: Instagram usage by object id, and what was wrong."""

    by_object: Mapping[str, Usage] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def parse_app_usage(raw: str | None) -> ParsedUsage:
    """Read ``X-App-Usage``; ``raw`` is the header value, ``None`` when the header is absent."""
    problems: list[str] = []
    document = _decode(raw, APP_HEADER, problems)
    if document is None:
        return ParsedUsage(None, tuple(problems))
    return ParsedUsage(_usage(document, APP_HEADER, problems, regain=False), tuple(problems))


def parse_buc_usage(raw: str | None) -> ParsedBucUsage:
    """Read ``X-Business-Use-Case-Usage``; ``raw`` is the header value, ``None`` when absent.

    Only ``"type": "instagram"`` entries are kept. An object with several of them is as bad as
    the worst of each figure, so that no reading understates how close the account is to a
    throttle.
    """
    problems: list[str] = []
    document = _decode(raw, BUC_HEADER, problems)
    if document is None:
        return ParsedBucUsage({}, tuple(problems))
    by_object: dict[str, Usage] = {}
    for object_id, value in document.items():
        where = f"{BUC_HEADER}[{_quote(object_id)}]"
        if isinstance(value, list):
            entries: list[object] = value
        elif isinstance(value, dict):
            problems.append(f"{where}: expected a list of entries, got an object; read as one")
            entries = [value]
        else:
            problems.append(f"{where}: expected a list of entries, got {_describe(value)}")
            continue
        worst_seen: Usage | None = None
        for index, entry in enumerate(entries):
            usage = _instagram_usage(entry, f"{where}[{index}]", problems)
            if usage is not None:
                worst_seen = usage if worst_seen is None else worst(worst_seen, usage)
        if worst_seen is not None:
            by_object[object_id] = worst_seen
    return ParsedBucUsage(by_object, tuple(problems))


def _instagram_usage(entry: object, here: str, problems: list[str]) -> Usage | None:
    """One entry's figures when it is an Instagram one; ``None`` (a problem listed if the entry
    is malformed) otherwise."""
    if not isinstance(entry, dict):
        problems.append(f"{here}: expected an object, got {_describe(entry)}")
        return None
    kind = entry.get("type")
    if not isinstance(kind, str):
        problems.append(f"{here}: type is {_describe(kind)}, not a string; skipped")
        return None
    if kind != INSTAGRAM_TYPE:
        # ads_management, pages, messenger… are other products' budgets, not ours.
        return None
    return _usage(entry, here, problems, regain=True)


def _decode(raw: object, header: str, problems: list[str]) -> dict[str, object] | None:
    """The header's JSON object, or ``None`` (with a problem listed unless simply absent)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        problems.append(f"{header}: expected text, got {type(raw).__name__}")
        return None
    if not raw.strip():
        problems.append(f"{header}: empty")
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON and integers past Python's digit limit; RecursionError
        # covers absurd nesting. Neither may escape a header parser.
        problems.append(f"{header}: not JSON: {_quote(raw)}")
        return None
    if not isinstance(document, dict):
        problems.append(f"{header}: expected a JSON object, got {_describe(document)}")
        return None
    return document


def _usage(
    entry: dict[str, object], where: str, problems: list[str], *, regain: bool
) -> Usage | None:
    """The entry's figures; ``None`` when it has unknown keys and none of the known figures."""
    unknown = [key for key in entry if key not in (_BUC_KEYS if regain else _APP_KEYS)]
    problems.extend(f"{where}: unknown key {_quote(key)}; not read" for key in unknown)
    if unknown and not any(key in _FIGURE_KEYS for key in entry):
        return None
    call_count, total_time, total_cputime = (
        _figure(entry, name, where, problems) for name in USAGE_FIELDS
    )
    return Usage(
        call_count=call_count,
        total_time=total_time,
        total_cputime=total_cputime,
        regain_s=_regain_s(entry, where, problems) if regain else None,
    )


def _figure(entry: dict[str, object], name: str, where: str, problems: list[str]) -> float:
    """A figure under its name or any synonym: the highest of them (0 when none is sent)."""
    keys = [name, *(other for other, meant in SYNONYMS.items() if meant == name)]
    return max(_percentage(entry, key, where, problems) for key in keys)


def _percentage(entry: dict[str, object], name: str, where: str, problems: list[str]) -> float:
    value = entry.get(name)
    if value is None:
        return 0.0
    number = _number(value)
    if isinstance(number, str):
        problems.append(f"{where}.{name}: {number}; read as 0")
        return 0.0
    return number


def _regain_s(entry: dict[str, object], where: str, problems: list[str]) -> float | None:
    value = entry.get(REGAIN_FIELD)
    if value is None:
        return None
    minutes = _number(value)
    if isinstance(minutes, str):
        problems.append(f"{where}.{REGAIN_FIELD}: {minutes}; ignored")
        return None
    # 0 minutes means "not throttled": no estimate to wait for.
    return minutes * 60.0 if minutes > 0 else None


def _number(value: object) -> float | str:
    """``value`` as a finite, non-negative float, or a sentence saying why it is not one."""
    number = _as_float(value)
    if number is None:
        return f"{_describe(value)} is not a number"
    if not math.isfinite(number):
        return f"{_describe(value)} is not finite"
    if number < 0:
        return f"{_describe(value)} is negative"
    return number


def _as_float(value: object) -> float | None:
    # bool is an int to Python but never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except OverflowError:  # an integer beyond float range
        return math.inf
    except ValueError:
        return None


def worst(a: Usage, b: Usage) -> Usage:
    """Each figure at its highest of ``a`` and ``b``: one reading that understates neither."""
    regains = [r for r in (a.regain_s, b.regain_s) if r is not None]
    return Usage(
        call_count=max(a.call_count, b.call_count),
        total_time=max(a.total_time, b.total_time),
        total_cputime=max(a.total_cputime, b.total_cputime),
        regain_s=max(regains) if regains else None,
    )


def _describe(value: object) -> str:
    """A short, log-safe name for a JSON value; containers are named, never printed."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int | float):
        return _quote(repr(value), quoted=False)
    return type(value).__name__


def _quote(text: str, *, quoted: bool = True) -> str:
    cut = text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "…"
    return repr(cut) if quoted else cut
