"""Contest rules: hashtags, mentions, the window, exclusions, one entry per user, rules versions."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from listener.enrich.contests import (
    RULES_SCHEMA,
    UNKNOWN_AUTHORS_DEFAULT,
    Entry,
    InOrder,
    Reason,
    Rules,
    Verdict,
    eligible_ids,
    hashtags,
    judge,
    judge_all,
    mentions,
    rules_document,
    rules_version,
    version_of,
)
from listener.models import Media
from listener.settings import CampaignSettings

START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)
MID = datetime(2026, 6, 15, 12, tzinfo=UTC)
PARIS = timezone(timedelta(hours=2))
NEW_YORK = timezone(timedelta(hours=-4))
TOKYO = timezone(timedelta(hours=9))

RULES = Rules(
    campaign_id="summerdrop-2026",
    account="brand",
    hashtags=("summerdrop",),
    starts_at=START,
    ends_at=END,
    min_mentions=1,
    exclude_usernames=("brand", "Staff.Member"),
    one_entry_per_user=True,
    own_username="Brand",
)
STRICT = replace(RULES, unknown_authors="ineligible")
GOOD_CAPTION = "Loving it #summerdrop with @alice"


def at(hours: float) -> datetime:
    """MID plus ``hours``."""
    return MID + timedelta(hours=hours)


def entry(
    media_id: str = "1",
    caption: str = GOOD_CAPTION,
    timestamp: datetime = MID,
    username: str | None = "carol",
) -> Entry:
    """An entry that passes every rule of RULES unless an argument says otherwise."""
    return Entry(media_id=media_id, caption=caption, timestamp=timestamp, username=username)


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("", ()),
        ("no tags here", ()),
        ("#summerdrop", ("summerdrop",)),
        ("#SummerDrop #SUMMERDROP #summerdrop", ("summerdrop",)),
        ("#summerdrop2026", ("summerdrop2026",)),
        ("#summer_drop", ("summer_drop",)),
        ("#summerdrop!", ("summerdrop",)),
        ("end of caption #summerdrop.", ("summerdrop",)),
        ("#summerdrop🎉🎉", ("summerdrop",)),
        ("#summerdrop❤️", ("summerdrop",)),
        ("#summerdrop\ufe0f", ("summerdrop",)),
        ("#summerdrop, #brand; #x:", ("summerdrop", "brand", "x")),
        ("(#summerdrop)", ("summerdrop",)),
        ("#one#two", ("one", "two")),
        ("line\n#summerdrop\n", ("summerdrop",)),
        ("abc#summerdrop", ()),
        ("I code in C# daily", ()),
        ("# summerdrop", ()),
        ("#", ()),
        ("#️⃣ keycap", ()),
        ("#café", ("café",)),
        ("#cafe\u0301", ("café",)),
        ("#CAFÉ", ("café",)),
        ("#STRASSE #straße", ("strasse",)),
        ("#ΣΟΦΙΑ", ("σοφια",)),
        ("#नमस्ते!", ("नमस्ते",)),
        ("#夏", ("夏",)),
        ("#2026", ("2026",)),
    ],
)
def test_hashtags(caption: str, expected: tuple[str, ...]) -> None:
    """Hashtags are folded, deduplicated, end at punctuation/emoji and keep combining marks."""
    assert hashtags(caption) == expected


@pytest.mark.parametrize(
    ("caption", "own", "expected"),
    [
        ("", None, ()),
        ("@alice", None, ("alice",)),
        ("@alice @bob", None, ("alice", "bob")),
        ("@Alice @alice @ALICE", None, ("alice",)),
        ("@alice @brand", "brand", ("alice",)),
        ("@alice @Brand", "brand", ("alice",)),
        ("@alice @brand", "@Brand", ("alice",)),
        ("@brand", "brand", ()),
        ("@brandx @brand.shop", "brand", ("brandx", "brand.shop")),
        ("write to bob@example.com", None, ()),
        ("first.last@example.com and @carol", None, ("carol",)),
        ("thanks @alice.", None, ("alice",)),
        ("thanks @alice...", None, ("alice",)),
        ("@alice, @bob! @carol? (@dave)", None, ("alice", "bob", "carol", "dave")),
        ("@al.ice_99", None, ("al.ice_99",)),
        ("@alice's post", None, ("alice",)),
        ("@alice🎉", None, ("alice",)),
        ("hi,@alice", None, ("alice",)),
        ("@" + "a" * 30, None, ("a" * 30,)),
        ("@" + "a" * 31, None, ()),
        ("@josé", None, ()),
        ("@.alice", None, ()),
        ("@al..ice", None, ()),
        ("@ alice", None, ()),
        ("@", None, ()),
        ("@alice@example.com", None, ()),
    ],
)
def test_mentions(caption: str, own: str | None, expected: tuple[str, ...]) -> None:
    """Handles per Instagram's rules, case-insensitive, once each, own handle and e-mails out."""
    assert mentions(caption, own) == expected


@pytest.mark.parametrize(
    ("caption", "excluded", "expected"),
    [
        ("@brand @fan.171 @ana", ("brand", "fan.171"), ("ana",)),
        ("@Brand @FAN.171", ("@brand", "Fan.171"), ()),
        ("@brand @fan.171", ("brand", None), ("fan.171",)),
        ("@brand @fan.171", (None, None), ("brand", "fan.171")),
        ("@ana @bo", (), ("ana", "bo")),
    ],
)
def test_mentions_leave_out_every_excluded_handle(
    caption: str, excluded: tuple[str | None, ...], expected: tuple[str, ...]
) -> None:
    """Several handles can be left out at once (the brand's and the author's); None is none."""
    assert mentions(caption, *excluded) == expected


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({}, ()),
        ({"caption": "#summerdrop2026 @alice"}, (Reason.MISSING_HASHTAG,)),
        ({"caption": "summerdrop @alice"}, (Reason.MISSING_HASHTAG,)),
        ({"caption": "#SUMMERDROP @alice"}, ()),
        ({"caption": "#summerdrop"}, (Reason.TOO_FEW_MENTIONS,)),
        ({"caption": "#summerdrop @brand"}, (Reason.TOO_FEW_MENTIONS,)),
        ({"caption": "#summerdrop mail@alice.com"}, (Reason.TOO_FEW_MENTIONS,)),
        ({"timestamp": START - timedelta(microseconds=1)}, (Reason.OUTSIDE_WINDOW,)),
        ({"timestamp": END}, (Reason.OUTSIDE_WINDOW,)),
        ({"username": "brand"}, (Reason.EXCLUDED_USER,)),
        ({"username": "BRAND"}, (Reason.EXCLUDED_USER,)),
        ({"username": "staff.member"}, (Reason.EXCLUDED_USER,)),
        ({"username": None}, ()),
        ({"caption": "#summerdrop @carol"}, (Reason.TOO_FEW_MENTIONS,)),
        ({"caption": "#summerdrop @Carol @brand"}, (Reason.TOO_FEW_MENTIONS,)),
        ({"caption": "#summerdrop @carol", "username": None}, ()),
        (
            {"caption": "nothing", "timestamp": END, "username": "Brand"},
            (
                Reason.MISSING_HASHTAG,
                Reason.OUTSIDE_WINDOW,
                Reason.TOO_FEW_MENTIONS,
                Reason.EXCLUDED_USER,
            ),
        ),
        (
            {"caption": "", "username": None},
            (Reason.MISSING_HASHTAG, Reason.TOO_FEW_MENTIONS),
        ),
    ],
)
def test_judge_reasons(changes: dict[str, Any], reasons: tuple[str, ...]) -> None:
    """Each per-media rule gives its own reason code, all of them listed in a fixed order."""
    verdict = judge(RULES, replace(entry(), **changes))
    assert verdict == Verdict(
        eligible=not reasons, reasons=reasons, rules_version=rules_version(RULES)
    )


@pytest.mark.parametrize(
    ("timestamp", "inside"),
    [
        (START, True),
        (START - timedelta(microseconds=1), False),
        (END - timedelta(microseconds=1), True),
        (END, False),
        (END + timedelta(days=1), False),
        (datetime(2026, 6, 1, 2, 0, tzinfo=PARIS), True),  # = START
        (datetime(2026, 6, 1, 1, 59, 59, 999999, tzinfo=PARIS), False),
        (datetime(2026, 5, 31, 20, 0, tzinfo=NEW_YORK), True),  # = START
        (datetime(2026, 5, 31, 19, 59, tzinfo=NEW_YORK), False),
        (datetime(2026, 7, 1, 8, 59, 59, 999999, tzinfo=TOKYO), True),
        (datetime(2026, 7, 1, 9, 0, tzinfo=TOKYO), False),  # = END
        (datetime(2026, 6, 30, 23, 0, tzinfo=NEW_YORK), False),  # 03:00 UTC on 1 July
    ],
)
def test_window_edges(timestamp: datetime, inside: bool) -> None:
    """The window is [starts_at, ends_at) as instants, whatever offset either side carries."""
    verdict = judge(RULES, entry(timestamp=timestamp))
    assert (Reason.OUTSIDE_WINDOW not in verdict.reasons) is inside


def test_window_given_in_other_zones() -> None:
    """Rules written with a non-UTC offset compare by instant too."""
    rules = replace(RULES, starts_at=START.astimezone(TOKYO), ends_at=END.astimezone(NEW_YORK))
    assert judge(rules, entry(timestamp=START)).eligible
    assert not judge(rules, entry(timestamp=END)).eligible


@pytest.mark.parametrize(
    ("campaign_tags", "caption", "eligible"),
    [
        ((), "no tags at all", True),
        (("summerdrop", "brandname"), "#summerdrop #brandname", True),
        (("summerdrop", "brandname"), "#BrandName and #SummerDrop.", True),
        (("summerdrop", "brandname"), "#summerdrop only", False),
        (("#SummerDrop",), "#summerdrop", True),
        (("straße",), "#STRASSE", True),
        (("café",), "#cafe\u0301", True),
        (("café",), "#cafe", False),
    ],
)
def test_every_campaign_hashtag_is_needed(
    campaign_tags: tuple[str, ...], caption: str, eligible: bool
) -> None:
    """All campaign hashtags must appear; configured tags are folded like captions."""
    rules = replace(RULES, hashtags=campaign_tags, min_mentions=0)
    assert judge(rules, entry(caption=caption)).eligible is eligible


@pytest.mark.parametrize(
    ("min_mentions", "caption", "eligible"),
    [
        (0, "#summerdrop", True),
        (2, "#summerdrop @alice @bob", True),
        (2, "#summerdrop @alice @ALICE", False),
        (2, "#summerdrop @alice @brand", False),
        (2, "#summerdrop @alice @bob.", True),
        (3, "#summerdrop @alice @bob x@carol.com", False),
    ],
)
def test_min_mentions(min_mentions: int, caption: str, eligible: bool) -> None:
    """Distinct handles are counted, the brand's own and e-mail addresses not."""
    rules = replace(RULES, min_mentions=min_mentions)
    assert judge(rules, entry(caption=caption)).eligible is eligible


def test_the_authors_own_handle_does_not_count() -> None:
    """Tagging yourself is not tagging a friend: the demo's self-mention is no entry."""
    caption = "Loving my new look from @brand ❤️ #summerdrop with @fan.171"
    verdict = judge(RULES, entry(caption=caption, username="fan.171"))
    assert verdict.reasons == (Reason.TOO_FEW_MENTIONS,)
    assert judge(RULES, entry(caption=caption, username="fan.172")).eligible


def test_unknown_authors_are_entrants_by_default() -> None:
    """By default an unknown author's entry counts and is not de-duplicated; known ones are."""
    assert UNKNOWN_AUTHORS_DEFAULT == "eligible"
    assert RULES.unknown_authors == "eligible"
    verdicts = judge_all(
        RULES,
        [
            entry("1", username=None),
            entry("2", username=None, timestamp=at(1)),
            entry("3", username="carol"),
            entry("4", username="carol", timestamp=at(1)),
        ],
    )
    assert {i: v.reasons for i, v in verdicts.items()} == {
        "1": (),
        "2": (),
        "3": (),
        "4": ("duplicate_user",),
    }


@pytest.mark.parametrize("one_entry_per_user", [True, False])
def test_unknown_authors_ineligible_requires_a_known_author(one_entry_per_user: bool) -> None:
    """ "ineligible" refuses unknown authors, with or without one entry per user."""
    rules = replace(STRICT, one_entry_per_user=one_entry_per_user)
    assert judge(rules, entry(username=None)) == Verdict(
        False, (Reason.AUTHOR_UNKNOWN,), rules_version(rules)
    )
    assert judge(rules, entry(username="carol")).eligible


def test_unknown_authors_refuses_other_values() -> None:
    """Only "eligible" and "ineligible" are policies."""
    with pytest.raises(ValueError, match="unknown_authors must be one of eligible, ineligible"):
        replace(RULES, unknown_authors="maybe")  # type: ignore[arg-type]  # the wrong value on purpose


ONE_PER_USER_CASES = [
    pytest.param(
        [entry("1", timestamp=at(1)), entry("2", timestamp=at(0)), entry("3", timestamp=at(2))],
        {"1": ("duplicate_user",), "2": (), "3": ("duplicate_user",)},
        id="earliest-kept",
    ),
    pytest.param(
        [entry("1", username="Carol"), entry("2", username="carol", timestamp=at(1))],
        {"1": (), "2": ("duplicate_user",)},
        id="username-case-insensitive",
    ),
    pytest.param(
        [entry("20"), entry("100"), entry("3")],
        {"100": (), "20": ("duplicate_user",), "3": ("duplicate_user",)},
        id="tie-by-media-id-as-string",
    ),
    pytest.param(
        [entry("1"), entry("2", timestamp=MID.astimezone(TOKYO))],
        {"1": (), "2": ("duplicate_user",)},
        id="same-instant-other-zone-is-a-tie",
    ),
    pytest.param(
        [entry("1", caption="no hashtag @alice"), entry("2", timestamp=at(1))],
        {"1": ("missing_hashtag",), "2": ()},
        id="ineligible-earlier-entry-does-not-compete",
    ),
    pytest.param(
        [entry("1", username="carol"), entry("2", username="dave")],
        {"1": (), "2": ()},
        id="different-authors",
    ),
    pytest.param(
        [entry("1", username=None), entry("2", username=None, timestamp=at(1)), entry("3")],
        {"1": (), "2": (), "3": ()},
        id="unknown-authors-not-deduplicated",
    ),
]


@pytest.mark.parametrize(("entries", "expected"), ONE_PER_USER_CASES)
def test_one_entry_per_user(entries: list[Entry], expected: dict[str, tuple[str, ...]]) -> None:
    """Each known author keeps the earliest eligible entry; unknown authors cannot be checked."""
    verdicts = judge_all(RULES, entries)
    assert {media_id: v.reasons for media_id, v in verdicts.items()} == expected
    assert all(v.eligible == (not v.reasons) for v in verdicts.values())
    assert list(verdicts) == sorted(expected)


@pytest.mark.parametrize(("entries", "expected"), ONE_PER_USER_CASES)
def test_judge_all_is_independent_of_input_order(
    entries: list[Entry], expected: dict[str, tuple[str, ...]]
) -> None:
    """Every permutation of the entries gives the same verdicts."""
    results = [judge_all(RULES, list(order)) for order in itertools.permutations(entries)]
    assert all(result == results[0] for result in results)


@pytest.mark.parametrize(("entries", "expected"), ONE_PER_USER_CASES)
def test_judging_in_order_one_at_a_time_equals_judging_all(
    entries: list[Entry], expected: dict[str, tuple[str, ...]]
) -> None:
    """InOrder, fed the entries by (timestamp, id), gives judge_all's verdicts."""
    judge_next = InOrder(RULES)
    ordered = sorted(entries, key=lambda e: (e.timestamp, e.media_id))
    assert {e.media_id: judge_next.judge(e) for e in ordered} == judge_all(RULES, entries)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(entry("0"), id="earlier-id-same-time"),
        pytest.param(entry("9", timestamp=MID - timedelta(seconds=1)), id="earlier-time"),
        pytest.param(entry("5"), id="same-entry-again"),
    ],
)
def test_judging_in_order_refuses_an_entry_out_of_order(second: Entry) -> None:
    """An entry that does not come strictly after the previous one is refused, not misjudged."""
    judge_next = InOrder(RULES)
    judge_next.judge(entry("5"))
    with pytest.raises(ValueError, match="out of \\(timestamp, id\\) order"):
        judge_next.judge(second)


def test_one_entry_per_user_off_keeps_everything() -> None:
    """With the rule off, repeated and unknown authors are all eligible."""
    rules = replace(RULES, one_entry_per_user=False)
    verdicts = judge_all(rules, [entry("1"), entry("2"), entry("3", username=None)])
    assert eligible_ids(verdicts) == ["1", "2", "3"]


def test_judge_all_refuses_a_media_listed_twice() -> None:
    """Two entries with one media id would make the result depend on order."""
    with pytest.raises(ValueError, match="media 1 is listed twice"):
        judge_all(RULES, [entry("1"), entry("1", caption="")])


def test_judge_all_agrees_with_judge_on_per_media_rules() -> None:
    """Without duplicates, judge_all gives exactly judge's verdicts."""
    entries = [entry("1"), entry("2", username=None), entry("3", username="dave", caption="")]
    assert judge_all(RULES, entries) == {e.media_id: judge(RULES, e) for e in entries}


def test_eligible_ids_are_sorted() -> None:
    """The entrant list handed to a draw is the eligible ids in sorted order."""
    verdicts = judge_all(RULES, [entry("9", username="x"), entry("10", username="y"), entry("5")])
    assert eligible_ids(verdicts) == ["10", "5", "9"]


@pytest.mark.parametrize(
    "same",
    [
        pytest.param(replace(RULES), id="copy"),
        pytest.param(
            replace(RULES, campaign_id="other", account="other"), id="names-decide-nothing"
        ),
        pytest.param(replace(RULES, hashtags=("#SummerDrop",)), id="tag-spelling"),
        pytest.param(replace(RULES, hashtags=("summerdrop", "summerdrop")), id="tag-repeated"),
        pytest.param(
            replace(RULES, exclude_usernames=("Staff.Member", "@BRAND", "brand")),
            id="exclusions-order-case",
        ),
        pytest.param(replace(RULES, own_username="@brand"), id="own-handle-spelling"),
        pytest.param(
            replace(RULES, starts_at=START.astimezone(TOKYO), ends_at=END.astimezone(NEW_YORK)),
            id="same-instants-other-zones",
        ),
    ],
)
def test_rules_version_is_stable(same: Rules) -> None:
    """The same rules, however spelled, have the same version."""
    assert rules_version(same) == rules_version(RULES)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(replace(RULES, hashtags=("summerdrop", "brandname")), id="hashtags"),
        pytest.param(replace(RULES, starts_at=START + timedelta(seconds=1)), id="starts_at"),
        pytest.param(replace(RULES, ends_at=END - timedelta(microseconds=1)), id="ends_at"),
        pytest.param(replace(RULES, min_mentions=2), id="min_mentions"),
        pytest.param(replace(RULES, exclude_usernames=("brand",)), id="exclude_usernames"),
        pytest.param(replace(RULES, one_entry_per_user=False), id="one_entry_per_user"),
        pytest.param(replace(RULES, own_username="other"), id="own_username"),
        pytest.param(replace(RULES, own_username=None), id="own_username-unknown"),
        pytest.param(replace(RULES, unknown_authors="ineligible"), id="unknown_authors"),
    ],
)
def test_rules_version_changes_with_any_rule(changed: Rules) -> None:
    """Changing any one rule changes the version."""
    assert rules_version(changed) != rules_version(RULES)


def test_rules_version_is_short_hex_and_recorded() -> None:
    """The version is 16 lower-case hex digits, fixed for given rules, and in every verdict."""
    version = rules_version(RULES)
    assert len(version) == 16
    assert set(version) <= set("0123456789abcdef")
    assert judge(RULES, entry()).rules_version == version
    assert judge(RULES, entry()).as_document() == {
        "eligible": True,
        "reasons": [],
        "rules_version": version,
    }


def test_rules_version_is_the_version_of_the_rules_document() -> None:
    """A draw records the rules document; read back from JSON it gives the same version."""
    document = rules_document(RULES)
    assert document["schema"] == RULES_SCHEMA == "contest-rules/2"
    assert document["unknown_authors"] == "eligible"
    assert version_of(document) == rules_version(RULES)
    assert version_of(json.loads(json.dumps(document))) == rules_version(RULES)
    assert version_of({**document, "min_mentions": 2}) != rules_version(RULES)


def test_reasons_are_plain_strings() -> None:
    """Stored reasons are plain str values, the contract's codes."""
    reasons = judge(STRICT, entry(caption="", username=None)).reasons
    assert reasons == ("missing_hashtag", "too_few_mentions", "author_unknown")
    assert all(type(reason) is str for reason in reasons)


def test_from_campaign_fills_from_settings() -> None:
    """Rules built from a CampaignSettings dump match the same rules built by hand."""
    campaign = CampaignSettings(
        id="summerdrop-2026",
        account="brand",
        hashtags=["SummerDrop"],
        starts_at=START,
        ends_at=END,
        min_mentions=1,
        exclude_usernames=["brand", "staff.member"],
        one_entry_per_user=True,
    )
    rules = Rules.from_campaign(**campaign.model_dump(), own_username="brand")
    assert rules == RULES
    assert rules_version(rules) == rules_version(RULES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts_at": datetime(2026, 6, 1)}, "starts_at needs a time zone"),  # noqa: DTZ001
        ({"ends_at": START}, "ends_at .* must be after starts_at"),
        ({"min_mentions": -1}, "min_mentions must be 0 or more"),
        ({"hashtags": ("summer drop",)}, "can never match a hashtag"),
        ({"hashtags": ("#",)}, "can never match a hashtag"),
    ],
)
def test_rules_refuse_what_could_never_work(changes: dict[str, Any], message: str) -> None:
    """Naive times, an empty window, negative counts and unmatchable tags are refused."""
    with pytest.raises(ValueError, match=message):
        replace(RULES, **changes)


def test_entry_needs_an_aware_timestamp() -> None:
    """A naive timestamp cannot be placed in the window, so it is refused."""
    with pytest.raises(ValueError, match="timestamp of media 7 needs a time zone"):
        Entry(media_id="7", timestamp=datetime(2026, 6, 2), caption="")  # noqa: DTZ001


def test_entry_from_media() -> None:
    """A Media makes the entry with its id, time, caption and (possibly absent) author."""
    media = Media(id="42", timestamp=MID, caption="#summerdrop @alice", username=None)
    assert Entry.from_media(media) == Entry("42", MID, "#summerdrop @alice", None)
