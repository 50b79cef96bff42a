"""Usage headers: Meta's samples, lenient reading, and garbage that reports but never raises."""

from __future__ import annotations

import json
import random
import string

import pytest

from listener.ratelimit.usage import (
    ParsedBucUsage,
    ParsedUsage,
    Usage,
    parse_app_usage,
    parse_buc_usage,
)
from tests import metabodies

APP_SAMPLE = '{"call_count":28,"total_time":25,"total_cputime":25}'
BUC_SAMPLE = (
    '{"17841400000000001":[{"type":"instagram","call_count":100,"total_cputime":25,'
    '"total_time":25,"estimated_time_to_regain_access":19}]}'
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(APP_SAMPLE, Usage(28, 25, 25), id="meta-sample"),
        pytest.param('{"call_count":40}', Usage(40, 0, 0), id="missing-keys-read-as-0"),
        pytest.param("{}", Usage(0, 0, 0), id="empty-object"),
        pytest.param(
            '{"call_count":"28","total_time":" 25 ","total_cputime":"2.5"}',
            Usage(28, 25, 2.5),
            id="numbers-as-strings",
        ),
        pytest.param('{"call_count":null}', Usage(0, 0, 0), id="null-as-missing"),
        pytest.param(
            '{"call_count":130,"total_time":0,"total_cputime":0}',
            Usage(130, 0, 0),
            id="over-100-kept",
        ),
        pytest.param(
            '{"call_count":1,"estimated_time_to_regain_access":5}',
            Usage(1, 0, 0),
            id="app-header-has-no-regain",
        ),
        pytest.param(f"  {APP_SAMPLE}\n", Usage(28, 25, 25), id="surrounding-whitespace"),
    ],
)
def test_app_usage_reads_well_formed_headers(raw: str, expected: Usage) -> None:
    """Well-formed and merely unusual X-App-Usage values read cleanly, with no problem."""
    assert parse_app_usage(raw) == ParsedUsage(expected, ())


@pytest.mark.parametrize(
    ("raw", "expected", "problem"),
    [
        pytest.param("", None, "empty", id="empty"),
        pytest.param("not json", None, "not JSON", id="not-json"),
        pytest.param('{"call_count":28', None, "not JSON", id="truncated"),
        pytest.param("[1,2,3]", None, "got a list", id="list-not-object"),
        pytest.param('"call_count"', None, "got 'call_count'", id="string-not-object"),
        pytest.param("28", None, "got 28", id="number-not-object"),
        pytest.param("null", None, "got null", id="json-null"),
        pytest.param("[" * 100_000, None, "not JSON", id="absurd-nesting"),
        pytest.param("9" * 5000, None, "not JSON", id="int-past-digit-limit"),
        pytest.param(
            '{"call_count":"abc","total_time":25}',
            Usage(0, 25, 0),
            "call_count: 'abc' is not a number",
            id="word",
        ),
        pytest.param(
            '{"call_count":-5,"total_time":25}', Usage(0, 25, 0), "is negative", id="negative"
        ),
        pytest.param(
            '{"call_count":"-5","total_time":25}',
            Usage(0, 25, 0),
            "is negative",
            id="negative-string",
        ),
        pytest.param('{"call_count":NaN}', Usage(0, 0, 0), "is not finite", id="nan-literal"),
        pytest.param('{"call_count":"nan"}', Usage(0, 0, 0), "is not finite", id="nan-string"),
        pytest.param('{"call_count":Infinity}', Usage(0, 0, 0), "not finite", id="infinity"),
        pytest.param('{"call_count":1e400}', Usage(0, 0, 0), "not finite", id="float-overflow"),
        pytest.param(
            '{"call_count":' + "9" * 400 + "}", Usage(0, 0, 0), "not finite", id="huge-int"
        ),
        pytest.param('{"call_count":true}', Usage(0, 0, 0), "true is not a number", id="bool"),
        pytest.param('{"call_count":[28]}', Usage(0, 0, 0), "a list is not a number", id="list"),
        pytest.param(
            '{"call_count":{"v":28}}', Usage(0, 0, 0), "an object is not a number", id="object"
        ),
    ],
)
def test_app_usage_garbage_is_reported_not_raised(
    raw: str, expected: Usage | None, problem: str
) -> None:
    """Unreadable values yield what could be read plus exactly one problem naming the fault."""
    parsed = parse_app_usage(raw)
    assert parsed.usage == expected
    assert len(parsed.problems) == 1
    assert problem in parsed.problems[0]
    assert parsed.problems[0].startswith("X-App-Usage")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            metabodies.raw("issues/restfb-1571-x-app-usage.txt").decode().strip(),
            Usage(0, 0, 0),
            id="captured-instagram-host-header",
        ),
        pytest.param('{"call_volume":95,"cpu_time":40}', Usage(95, 0, 40), id="synonyms"),
        pytest.param(
            '{"call_count":10,"call_volume":95,"total_time":5}',
            Usage(95, 5, 0),
            id="name-and-synonym-the-higher",
        ),
    ],
)
def test_app_usage_reads_the_synonyms_meta_has_sent(raw: str, expected: Usage) -> None:
    """call_volume and cpu_time (graph.instagram.com) are read as call_count and total_cputime."""
    assert parse_app_usage(raw) == ParsedUsage(expected, ())


@pytest.mark.parametrize(
    ("raw", "expected", "unknown"),
    [
        pytest.param(
            '{"call_count":28,"total_time":25,"total_cputime":25,"new_field":{"x":1}}',
            Usage(28, 25, 25),
            ["'new_field'"],
            id="beside-known-figures",
        ),
        pytest.param('{"calls":95,"cpu":40}', None, ["'calls'", "'cpu'"], id="only-unknown"),
    ],
)
def test_app_usage_unknown_keys_are_problems_never_zeros(
    raw: str, expected: Usage | None, unknown: list[str]
) -> None:
    """Each unknown key is a problem; figures only under unknown names are not read as 0."""
    parsed = parse_app_usage(raw)
    assert parsed.usage == expected
    assert len(parsed.problems) == len(unknown)
    for problem, key in zip(parsed.problems, unknown, strict=True):
        assert problem.startswith("X-App-Usage: unknown key")
        assert key in problem


def test_buc_unknown_keys_are_problems_never_zeros() -> None:
    """An Instagram entry's unknown key is a problem; an entry of unknown keys only is unread."""
    parsed = parse_buc_usage(
        '{"1":[{"type":"instagram","call_count":1,"brand_new":[1,{"a":2}]}],'
        '"2":[{"type":"instagram","calls":97}]}'
    )
    assert dict(parsed.by_object) == {"1": Usage(1, 0, 0)}
    assert [p.split(": ", 1)[1] for p in parsed.problems] == [
        "unknown key 'brand_new'; not read",
        "unknown key 'calls'; not read",
    ]


def test_captured_buc_header_is_read() -> None:
    """python-facebook's captured X-Business-Use-Case-Usage reads cleanly (regain 0 = none)."""
    header = json.dumps(metabodies.body("pyfacebook/headers.json")["x-business-use-case-usage"])
    assert parse_buc_usage(header) == ParsedBucUsage(
        {"17841400455970028": Usage(12, 10, 29, None)}, ()
    )


def test_absent_headers_read_as_nothing_without_problems() -> None:
    """A missing header is normal: no usage, no problem."""
    assert parse_app_usage(None) == ParsedUsage(None, ())
    assert parse_buc_usage(None) == ParsedBucUsage({}, ())


def test_problems_quote_bounded_text() -> None:
    """A huge bad value is quoted cut short, so a problem never floods a log line."""
    parsed = parse_app_usage('{"call_count":"' + "x" * 10_000 + '"}')
    assert len(parsed.problems) == 1
    assert len(parsed.problems[0]) < 200


def test_every_field_problem_is_listed() -> None:
    """Three bad fields give three problems, so the caller's count is honest."""
    parsed = parse_app_usage('{"call_count":"a","total_time":-1,"total_cputime":[]}')
    assert parsed.usage == Usage(0, 0, 0)
    assert len(parsed.problems) == 3


@pytest.mark.parametrize(
    ("usage", "ratio", "metrics"),
    [
        pytest.param(
            Usage(28, 25, 25),
            0.28,
            {"call_count": 0.28, "total_time": 0.25, "total_cputime": 0.25},
            id="call-count-highest",
        ),
        pytest.param(
            Usage(10, 90, 20),
            0.9,
            {"call_count": 0.1, "total_time": 0.9, "total_cputime": 0.2},
            id="time-highest",
        ),
        pytest.param(
            Usage(0, 0, 100),
            1.0,
            {"call_count": 0.0, "total_time": 0.0, "total_cputime": 1.0},
            id="cpu-throttled",
        ),
        pytest.param(
            Usage(150, 0, 0),
            1.5,
            {"call_count": 1.5, "total_time": 0.0, "total_cputime": 0.0},
            id="over-budget",
        ),
        pytest.param(
            Usage(0, 0, 0),
            0.0,
            {"call_count": 0.0, "total_time": 0.0, "total_cputime": 0.0},
            id="idle",
        ),
    ],
)
def test_ratio_is_the_worst_of_three(usage: Usage, ratio: float, metrics: dict[str, float]) -> None:
    """ratio() is the highest percentage as a share; metrics() gives each one as a share."""
    assert usage.ratio() == pytest.approx(ratio)
    assert usage.metrics() == pytest.approx(metrics)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(BUC_SAMPLE, {"17841400000000001": Usage(100, 25, 25, 19 * 60)}, id="sample"),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":10,"estimated_time_to_regain_access":0}]}',
            {"1": Usage(10, 0, 0, None)},
            id="regain-0-is-none",
        ),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":10}]}',
            {"1": Usage(10, 0, 0, None)},
            id="regain-missing",
        ),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":"10","estimated_time_to_regain_access":"2"}]}',
            {"1": Usage(10, 0, 0, 120)},
            id="strings",
        ),
        pytest.param(
            '{"1":[{"type":"pages","call_count":99},{"type":"instagram","call_count":5}]}',
            {"1": Usage(5, 0, 0)},
            id="other-types-ignored",
        ),
        pytest.param(
            '{"1":[{"type":"ads_management","call_count":99}]}', {}, id="no-instagram-entry"
        ),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":40,"total_time":5,'
            '"estimated_time_to_regain_access":3},'
            '{"type":"instagram","call_count":20,"total_time":60,'
            '"estimated_time_to_regain_access":7}]}',
            {"1": Usage(40, 60, 0, 7 * 60)},
            id="several-instagram-entries-take-worst-of-each",
        ),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":1}],"2":[{"type":"instagram","total_time":2}]}',
            {"1": Usage(1, 0, 0), "2": Usage(0, 2, 0)},
            id="two-objects",
        ),
        pytest.param('{"1":[]}', {}, id="empty-entries"),
        pytest.param("{}", {}, id="empty-object"),
    ],
)
def test_buc_usage_reads_well_formed_headers(raw: str, expected: dict[str, Usage]) -> None:
    """Instagram entries are read per object id, regain minutes become seconds, no problems."""
    assert parse_buc_usage(raw) == ParsedBucUsage(expected, ())


@pytest.mark.parametrize(
    ("raw", "expected", "problems"),
    [
        pytest.param("nope", {}, ["not JSON"], id="not-json"),
        pytest.param("[]", {}, ["got a list"], id="list-not-object"),
        pytest.param('{"1":5}', {}, ["got 5"], id="entries-a-number"),
        pytest.param('{"1":"instagram"}', {}, ["got 'instagram'"], id="entries-a-string"),
        pytest.param(
            '{"1":{"type":"instagram","call_count":3}}',
            {"1": Usage(3, 0, 0)},
            ["got an object; read as one"],
            id="object-where-list-belongs",
        ),
        pytest.param(
            '{"1":[7,{"type":"instagram","call_count":3}]}',
            {"1": Usage(3, 0, 0)},
            ["[0]: expected an object, got 7"],
            id="non-object-entry-skipped",
        ),
        pytest.param('{"1":[{"call_count":99}]}', {}, ["type is null, not a string"], id="no-type"),
        pytest.param('{"1":[{"type":5}]}', {}, ["type is 5"], id="type-not-string"),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":-1,"estimated_time_to_regain_access":"x"}]}',
            {"1": Usage(0, 0, 0, None)},
            ["call_count: -1 is negative", "estimated_time_to_regain_access: 'x' is not a number"],
            id="bad-numbers",
        ),
        pytest.param(
            '{"1":[{"type":"instagram","estimated_time_to_regain_access":-3}]}',
            {"1": Usage(0, 0, 0, None)},
            ["is negative; ignored"],
            id="negative-regain",
        ),
        pytest.param(
            '{"1":[{"type":"instagram","call_count":NaN}],"2":[{"type":"instagram","call_count":9}]}',
            {"1": Usage(0, 0, 0), "2": Usage(9, 0, 0)},
            ["not finite"],
            id="one-bad-object-does-not-spoil-others",
        ),
    ],
)
def test_buc_usage_garbage_is_reported_not_raised(
    raw: str, expected: dict[str, Usage], problems: list[str]
) -> None:
    """Each fault is one problem naming where it was; everything readable is still read."""
    parsed = parse_buc_usage(raw)
    assert dict(parsed.by_object) == expected
    assert len(parsed.problems) == len(problems)
    for got, want in zip(parsed.problems, problems, strict=True):
        assert got.startswith("X-Business-Use-Case-Usage")
        assert want in got


def _random_json(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value biased towards the shapes the headers use."""
    choice = rng.randrange(10 if depth < 3 else 6)
    leaves: list[object] = [
        None,
        rng.choice([True, False]),
        rng.randint(-(10**6), 10**6),
        rng.uniform(-1e3, 1e3),
        rng.choice(["instagram", "pages", "28", "-1", "nan", "inf", "", "1e999", "x"]),
        rng.choice([float("nan"), float("inf"), -0.0, 10**400]),
    ]
    if choice < 6:
        return leaves[choice]
    keys = ["type", "call_count", "total_time", "total_cputime", "estimated_time_to_regain_access"]
    if choice < 8:
        return {
            rng.choice([*keys, "1784", "other"]): _random_json(rng, depth + 1)
            for _ in range(rng.randrange(5))
        }
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


def _random_text(rng: random.Random) -> str:
    """A header value: random JSON, JSON with characters flipped, or plain noise."""
    mode = rng.randrange(3)
    if mode == 0:
        return json.dumps(_random_json(rng))
    if mode == 1:
        text = list(json.dumps(_random_json(rng)))
        for _ in range(rng.randrange(1, 4)):
            if text:
                text[rng.randrange(len(text))] = rng.choice(string.printable + "é\u0000\ud800")
        return "".join(text)
    return "".join(rng.choice(string.printable) for _ in range(rng.randrange(30)))


@pytest.mark.parametrize("seed", range(20))
def test_fuzzed_headers_never_raise_and_yield_sane_numbers(seed: int) -> None:
    """Random garbage never raises; every number read is finite and non-negative."""
    rng = random.Random(seed)
    for _ in range(200):
        raw = _random_text(rng)
        app = parse_app_usage(raw)
        buc = parse_buc_usage(raw)
        usages = ([app.usage] if app.usage else []) + list(buc.by_object.values())
        for usage in usages:
            for value in (usage.call_count, usage.total_time, usage.total_cputime):
                assert value >= 0
                assert value < float("inf")
            assert usage.regain_s is None or 0 < usage.regain_s < float("inf")
        assert all(isinstance(problem, str) for problem in app.problems + buc.problems)


def test_non_text_header_is_a_problem() -> None:
    """A caller passing bytes by mistake gets a problem, not an exception."""
    raw: object = APP_SAMPLE.encode()
    parsed = parse_app_usage(raw)  # type: ignore[arg-type]  # a value of the wrong type, on purpose
    assert parsed.usage is None
    assert parsed.problems == ("X-App-Usage: expected text, got bytes",)
