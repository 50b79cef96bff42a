"""Hostile webhook requests, generated from a seed, each with the answer it must get.

A :class:`Case` is one POST: its body, its headers, the statuses it may be answered, and for a
delivery the keys that must end up ``pending`` (valid changes of a valid shape) or ``dead``
(changes of a valid envelope that are of the wrong shape or that MongoDB cannot store). The
expectations are worked out from how each body was built, not by the parser under test; only
a change's identity (:func:`event_key`) is shared with it.
"""

from __future__ import annotations

import gzip
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from listener.web.payload import MAX_CHANGES, event_key
from listener.web.signature import sign

SECRET: Final = "fuzzing-app-secret"
MAX_BYTES: Final = 64 * 1024
ACCOUNTS: Final = ("17841400000000001", "17841400000000002", 17841400000000003)

Json = Any
Body = tuple[bytes, frozenset[int], "_Delivery | None"]


@dataclass
class Case:
    """One request and what it must come to."""

    kind: str
    body: bytes
    headers: dict[str, str]
    statuses: frozenset[int]
    pending: set[str] = field(default_factory=set)
    dead: set[str] = field(default_factory=set)


@dataclass
class _Change:
    """A change as built: its JSON, and the key it is stored under when it is expected to be."""

    json: Json
    key: str | None = None
    valid: bool = False


@dataclass
class _Delivery:
    document: Json
    pending: set[str] = field(default_factory=set)
    dead: set[str] = field(default_factory=set)


class Hostile:
    """Generates cases from one seeded ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._texts = [self._make_text() for _ in range(500)]
        self._seen: list[tuple[str, str, dict[str, Json]]] = []  # valid changes, to repeat

    def cases(self, count: int) -> list[Case]:
        """``count`` cases."""
        return [self.case() for _ in range(count)]

    def case(self) -> Case:
        """One case: a body of some kind, then a signature of some kind, maybe an encoding."""
        kind, body, statuses, delivery = self._body()
        headers = {"Content-Type": "application/json"}
        signature = self._signature(body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        roll = self._rng.random()
        if len(body) > MAX_BYTES:
            statuses = frozenset({413})
        elif roll < 0.02:
            headers["Content-Encoding"] = self._rng.choice(["gzip", "deflate", "br", "x-zip"])
            body = gzip.compress(body) if headers["Content-Encoding"] == "gzip" else body
            statuses, delivery = frozenset({415}), None
        elif signature != sign(body, SECRET):
            statuses, delivery = frozenset({403}), None
        case = Case(kind, body, headers, statuses)
        if delivery is not None and statuses == {200}:
            case.pending, case.dead = delivery.pending, delivery.dead
        return case

    # Bodies ------------------------------------------------------------------------------

    def _body(self) -> tuple[str, bytes, frozenset[int], _Delivery | None]:
        """A body of a kind drawn by weight: (kind, bytes, statuses, the delivery it holds)."""
        rng = self._rng
        kinds: list[tuple[float, str, Callable[[], Body]]] = [
            (0.40, "delivery", self._valid),
            (0.15, "random json", lambda: (_dumps(self._json(depth=4)), _200_OR_400, None)),
            (0.07, "wrong shape", lambda: (_dumps(self._wrong_shape()), _400, None)),
            (0.07, "bad utf-8", lambda: (self._bad_utf8(), _400, None)),
            (0.06, "not json", lambda: (self._not_json(), _400, None)),
            (0.07, "too deep", lambda: (self._too_deep(), _400, None)),
            (0.02, "too many changes", lambda: (self._flood(), _400, None)),
            (0.01, "too large", lambda: (self._too_large(), frozenset({413}), None)),
            (0.10, "bytes", lambda: (rng.randbytes(rng.randrange(300)), _200_OR_400, None)),
        ]
        [(_, kind, make)] = rng.choices(kinds, weights=[weight for weight, _, _ in kinds])
        return (kind, *make())

    def _valid(self) -> Body:
        delivery = self._delivery()
        return _dumps(delivery.document), frozenset({200}), delivery

    def _delivery(self) -> _Delivery:
        """A delivery of a valid envelope: changes valid, hostile or of the wrong shape."""
        rng = self._rng
        delivery = _Delivery(document=None)
        envelopes = [self._envelope(delivery) for _ in range(rng.choice([1, 1, 1, 2]))]
        delivery.document = envelopes if len(envelopes) > 1 or rng.random() < 0.1 else envelopes[0]
        return delivery

    def _envelope(self, delivery: _Delivery) -> Json:
        rng = self._rng
        entries = [self._entry(delivery) for _ in range(rng.randrange(1, 4))]
        envelope: dict[str, Json] = {"entry": entries}
        if rng.random() < 0.9:
            envelope["object"] = "instagram"
        return envelope

    def _entry(self, delivery: _Delivery) -> Json:
        rng = self._rng
        entry_id: Json = rng.choice(ACCOUNTS)
        if rng.random() < 0.05:
            entry_id = rng.choice([2**64 + rng.randrange(1000), "1784\udc80" + str(rng.random())])
        ig_user_id = str(entry_id)
        storable_id = "\udc80" not in ig_user_id
        entry: dict[str, Json] = {"id": entry_id, "time": self._time()}
        changes = [self._change(ig_user_id) for _ in range(rng.randrange(0, 5))]
        if len(changes) == 1 and changes[0].key is not None and rng.random() < 0.3:
            entry |= changes[0].json  # the Instagram Login shape: field and value on the entry
        else:
            entry["changes"] = [change.json for change in changes]
        if rng.random() < 0.1:
            entry["messaging"] = [self._json(depth=2) for _ in range(rng.randrange(0, 3))]
        for change in changes:
            if change.key is None:
                continue
            expected = delivery.pending if change.valid and storable_id else delivery.dead
            expected.add(change.key)
        return entry

    def _change(self, ig_user_id: str) -> _Change:
        rng = self._rng
        roll = rng.random()
        if roll < 0.1 and self._seen:  # Meta retries: a change already delivered
            seen_id, seen_field, seen_value = rng.choice(self._seen)
            if seen_id == ig_user_id:
                return self._keyed(ig_user_id, seen_field, seen_value, valid=True)
        if roll < 0.6:
            field_name, value = self._valid_value()
            self._seen.append((ig_user_id, field_name, value))
            return self._keyed(ig_user_id, field_name, value, valid=True)
        if roll < 0.85:  # a valid shape MongoDB cannot store
            field_name, value = self._valid_value()
            value[rng.choice(["note", "\udfff", "x"])] = self._unstorable()
            return self._keyed(ig_user_id, field_name, value, valid=False)
        if roll < 0.93:  # an object with a field and a value, but not a usable change
            value = {"media_id": rng.choice(["abc", True, 1.5, None, "1" * 40, -1.5])}
            return self._keyed(ig_user_id, "mentions", value, valid=False)
        # Not even a change: the parser keeps it as a dead letter under a key of its own.
        junk = rng.choice(
            [self._json(depth=2), {"value": {}}, {"field": "", "value": {}}, {"field": "m"}]
        )
        return _Change(junk)

    def _keyed(self, ig_user_id: str, field_name: str, value: Json, *, valid: bool) -> _Change:
        change = {"field": field_name, "value": value}
        return _Change(change, event_key(ig_user_id, field_name, value), valid)

    def _valid_value(self) -> tuple[str, dict[str, Json]]:
        """A change of a shape the worker reads, with storable extras."""
        rng = self._rng
        digits = "".join(rng.choices(string.digits, k=17))
        extras = {self._key(): self._json(depth=3) for _ in range(rng.randrange(0, 3))}
        roll = rng.random()
        if roll < 0.6:
            media_id: Json = digits if rng.random() < 0.8 else int(digits)
            value: dict[str, Json] = {"media_id": media_id, **extras}
            if rng.random() < 0.4:
                value["comment_id"] = "".join(rng.choices(string.digits, k=17))
            return "mentions", value
        if roll < 0.85:
            value = {"id": digits, "text": self._text(), "from": {"username": self._text()}}
            if rng.random() < 0.5:
                value["media"] = {"id": "".join(rng.choices(string.digits, k=17))}
            return "comments", value | extras
        return rng.choice(["story_insights", "live_comments", "x" * rng.randrange(1, 50)]), extras

    def _unstorable(self) -> Json:
        rng = self._rng
        makers: list[Callable[[], Json]] = [
            lambda: rng.choice([1, -1]) * (2**63 + rng.randrange(2**80)),
            lambda: self._text() + "\ud83d",
            lambda: {"\udc00" + self._text(): 1},
            lambda: {"k\x00" + self._text(): 1},
            lambda: _nested(rng.randrange(100, 300)),
            lambda: [_nested(rng.randrange(99, 200))],
        ]
        return rng.choice(makers)()

    # Whole bodies that are not deliveries -----------------------------------------------------

    def _wrong_shape(self) -> Json:
        rng = self._rng
        good = self._delivery().document
        envelope = good[0] if isinstance(good, list) else good
        mutation = rng.randrange(9)
        if mutation == 0:
            envelope["entry"] = self._json(depth=1, containers=False)
        elif mutation == 1:
            envelope["entry"].append(self._json(depth=1, containers=False))
        elif mutation == 2:
            envelope["entry"].append({"time": 1, "changes": []})
        elif mutation == 3:
            envelope["entry"].append({"id": "1", "changes": self._json(depth=0)})
        elif mutation == 4:
            envelope["object"] = rng.choice(["page", "user", 5, [], {}])
        elif mutation == 5:
            envelope["entry"].append({"id": "1", "messaging": {"sender": {}}})
        elif mutation == 6:
            envelope["entry"].append({"id": [1], "changes": []})
        elif mutation == 7:
            return [envelope, self._json(depth=0)]
        else:
            return self._json(depth=0)
        return good

    def _bad_utf8(self) -> bytes:
        rng = self._rng
        body = _dumps(self._delivery().document)
        bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
        at = rng.randrange(1, len(body))
        return body[:at] + bad + body[at:]

    def _not_json(self) -> bytes:
        rng = self._rng
        body = _dumps(self._delivery().document)
        makers: list[Callable[[], bytes]] = [
            lambda: body[: rng.randrange(1, len(body))],
            lambda: b'{"object": "instagram", "entry": [' + b"9" * 5000 + b"]}",
            lambda: b"",
            lambda: b"{'object': 'instagram'}",
            lambda: body + b"}",
        ]
        return rng.choice(makers)()

    def _too_deep(self) -> bytes:
        rng = self._rng
        levels = rng.randrange(1000, 4000)
        makers: list[Callable[[], bytes]] = [
            lambda: b"[" * levels + b"]" * levels,
            lambda: (
                b'{"object": "instagram", "entry": [{"id": "1", "changes": [{"field": '
                + b'"mentions", "value": '
                + b'{"a": ' * levels
                + b"1"
                + b"}" * levels
                + b"}]}]}"
            ),
            lambda: b"[" * levels + _dumps(self._delivery().document) + b"]" * levels,
        ]
        return rng.choice(makers)()

    def _too_large(self) -> bytes:
        return _dumps({"object": "instagram", "entry": [], "pad": "x" * (MAX_BYTES + 1)})

    def _flood(self) -> bytes:
        count = MAX_CHANGES + 1 + self._rng.randrange(1000)
        return b'{"entry": [{"id": "1", "changes": [' + b",".join([b"{}"] * count) + b"]}]}"

    # Signatures ------------------------------------------------------------------------------

    def _signature(self, body: bytes) -> str | None:
        rng = self._rng
        roll = rng.random()
        if roll < 0.75:
            return sign(body, SECRET)
        forged: list[Callable[[], str | None]] = [
            lambda: None,
            lambda: "",
            lambda: sign(body, "another-secret"),
            lambda: sign(body + b" ", SECRET),
            lambda: sign(body, SECRET).upper(),
            lambda: sign(body, SECRET).removeprefix("sha256="),
            lambda: "sha1=" + "0" * 40,
            lambda: "sha256=" + "0" * 64,
            # Non-ASCII bytes on the wire (UTF-8 sent as is; aiohttp reads them back as text).
            lambda: ("sha256=" + "é" * 32).encode().decode("latin-1"),
            lambda: "sha256=" + "".join(rng.choices(string.printable.strip(), k=64)),
        ]
        return rng.choice(forged)()

    # Values ---------------------------------------------------------------------------------

    def _json(self, *, depth: int, containers: bool = True) -> Json:
        """Random JSON MongoDB can store: no integer beyond 64 bits, no lone surrogate."""
        rng = self._rng
        roll = rng.random()
        if containers and depth > 0 and roll < 0.3:
            return {self._key(): self._json(depth=depth - 1) for _ in range(rng.randrange(0, 4))}
        if containers and depth > 0 and roll < 0.45:
            return [self._json(depth=depth - 1) for _ in range(rng.randrange(0, 4))]
        return rng.choice(
            [
                lambda: None,
                lambda: rng.random() < 0.5,
                lambda: rng.randrange(-(2**63), 2**63),
                lambda: rng.uniform(-1e300, 1e300),
                lambda: rng.choice([float("inf"), float("-inf"), float("nan"), -0.0, 1e-320]),
                self._text,
            ]
        )()

    def _key(self) -> str:
        """A key MongoDB stores (no NUL), never one the worker reads."""
        rng = self._rng
        key = rng.choice(["$where", "a.b", "", "_id", self._text().replace("\x00", "")])
        return "x" + key if key in _READ_KEYS else key

    def _text(self) -> str:
        return self._rng.choice(self._texts)

    def _make_text(self) -> str:
        rng = self._rng
        alphabet = rng.choice(_ALPHABETS)
        return "".join(rng.choices(alphabet, k=rng.randrange(0, 24)))

    def _time(self) -> Json:
        rng = self._rng
        return rng.choice(
            [1795910400, 1795910400.5, -1, 10**30, "yesterday", None, float("nan"), True]
        )


_400: Final = frozenset({400})
_200_OR_400: Final = frozenset({200, 400})
_ALPHABETS: Final = (
    string.ascii_letters,
    '😀❤️\u200d🔥#@ \n\t"\\/',
    "\x00\x01\x1f\x7f\u2028\u2029\ufeff",
    "日本語 العربية עברית",
    "\U0010ffff\U0001f9d1\U0001f3fd",
)
_READ_KEYS: Final = frozenset({"id", "media_id", "comment_id", "media", "from", "entry"})


def _dumps(document: Json) -> bytes:
    """JSON as Meta would send it (ASCII, ``\\u`` escapes), lone surrogates included."""
    return json.dumps(document).encode()


def _nested(levels: int) -> Json:
    value: Json = 0
    for _ in range(levels):
        value = {"n": value}
    return value
