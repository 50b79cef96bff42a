"""Comment giveaway rules by table: which comments on the brand's posts are entries, and why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.contests.comments import row
from listener.enrich.contests import Entry, Rules, judge, judge_all, rules_version

START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2026, 12, 8, tzinfo=UTC)
RULES = Rules(
    campaign_id="giveaway",
    starts_at=START,
    ends_at=END,
    min_mentions=2,
    exclude_usernames=("staff",),
    own_username="brand",
    kind="comments",
    posts=("111",),
)


def comment(
    text: str = "Me! @ana @bo",
    *,
    username: str | None = "fan",
    post: str = "111",
    parent: str | None = None,
    hours: float = 1,
    comment_id: str = "c1",
) -> Entry:
    return Entry.from_comment(
        comment_id=comment_id,
        media_id=post,
        timestamp=START + timedelta(hours=hours),
        text=text,
        username=username,
        parent_id=parent,
    )


@pytest.mark.parametrize(
    ("entry", "reasons"),
    [
        (comment(), ()),
        (comment("@ana @ANA"), ("too_few_mentions",)),
        (comment("@ana @brand"), ("too_few_mentions",)),  # the brand's handle does not count
        (comment("@ana @fan"), ("too_few_mentions",)),  # nor the commenter's own
        (comment("@ana @bo @brand @fan"), ()),
        (comment(post="222"), ("not_campaign_post",)),
        (comment(parent="c0"), ("not_top_level",)),
        (comment(hours=-1), ("outside_window",)),
        (comment(hours=24 * 7), ("outside_window",)),
        (comment(username="Staff"), ("excluded_user",)),
        (comment(username=None), ("author_unknown",)),  # always known; missing is no entry
        (
            comment("hi", post="222", parent="c0"),
            ("too_few_mentions", "not_campaign_post", "not_top_level"),
        ),
    ],
)
def test_comment_rules(entry: Entry, reasons: tuple[str, ...]) -> None:
    """Each comment gets exactly the reasons its rules give, in the fixed order."""
    verdict = judge(RULES, entry)
    assert verdict.reasons == reasons
    assert verdict.eligible is (not reasons)


@pytest.mark.parametrize(
    ("hashtags", "text", "eligible"),
    [
        ((), "@ana @bo", True),  # the hashtag list may be empty
        (("winter",), "@ana @bo #Winter!", True),
        (("winter",), "@ana @bo #winter2026", False),
        (("winter", "gift"), "#gift @ana @bo #winter", True),
    ],
)
def test_comment_hashtags_must_all_appear(
    hashtags: tuple[str, ...], text: str, eligible: bool
) -> None:
    """Campaign hashtags are read from the comment's text as from a caption."""
    rules = Rules(**{**RULES.__dict__, "hashtags": hashtags})
    assert judge(rules, comment(text)).eligible is eligible


def test_one_entry_per_user_keeps_the_earliest_top_level_comment() -> None:
    """A commenter's later comments are duplicate_user, whatever order they come in."""
    entries = [
        comment(comment_id="c3", hours=3, username="Fan"),
        comment(comment_id="c1", hours=1),
        comment(comment_id="c2", hours=2, post="222"),  # not an entry: does not compete
        comment(comment_id="c4", hours=4, username="other"),
    ]
    verdicts = judge_all(RULES, entries)
    assert {i: v.reasons for i, v in verdicts.items()} == {
        "c1": (),
        "c2": ("not_campaign_post",),
        "c3": ("duplicate_user",),
        "c4": (),
    }
    assert judge_all(RULES, entries[::-1]) == verdicts


def test_rules_version_names_the_kind_and_posts() -> None:
    """Changing a giveaway's posts changes its rules version; hashtag rules keep theirs."""
    moved = Rules(**{**RULES.__dict__, "posts": ("111", "333")})
    assert rules_version(moved) != rules_version(RULES)
    hashtag = Rules(campaign_id="h", starts_at=START, ends_at=END)
    assert rules_version(hashtag) == rules_version(
        Rules(campaign_id="x", starts_at=START, ends_at=END)
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"posts": ()}, "a comment campaign needs posts"),
        ({"kind": "hashtags"}, "posts are for comment campaigns"),
    ],
)
def test_comment_rules_refuse_what_cannot_work(changes: dict[str, object], message: str) -> None:
    """A comment campaign without posts, or posts on a hashtag campaign, are refused."""
    with pytest.raises(ValueError, match=message):
        Rules(**{**RULES.__dict__, **changes})


def test_export_row_of_a_comment() -> None:
    """A stored comment becomes the contract's row, verdict and sentiment included."""
    document = {
        "_id": "c1",
        "media_id": "111",
        "username": "fan",
        "timestamp": START,
        "text": "=cmd @ana @bo",
        "sentiment": {"label": "neutral", "score": 0.0},
        "contests": {"giveaway": {"eligible": True, "reasons": []}},
    }
    assert row(document, "giveaway", 1) == {
        "entry_number": 1,
        "comment_id": "c1",
        "media_id": "111",
        "username": "fan",
        "timestamp": "2026-12-01T00:00:00Z",
        "text": "=cmd @ana @bo",
        "sentiment": "neutral",
        "sentiment_score": 0.0,
        "eligible": True,
        "reasons": [],
    }
