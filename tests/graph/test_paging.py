"""Paging decisions: following next links, building /tags requests, stopping on repeats."""

from __future__ import annotations

from listener.graph.paging import PageWalk, strip_credentials
from listener.graph.wire import Cursors, Paging

BASE = "http://h/v25.0/1/recent_media"


def test_credentials_are_stripped_and_params_sorted() -> None:
    """Tokens and proofs never take part in comparing requests."""
    assert (
        strip_credentials(f"{BASE}?b=2&access_token=T&a=1&appsecret_proof=P") == f"{BASE}?a=1&b=2"
    )


def test_next_link_is_followed_until_absent() -> None:
    """A page with next leads on; a page without next ends the walk."""
    walk = PageWalk()
    walk.first(BASE, {"limit": "50"})
    assert (
        walk.after_next_link(Paging(next=f"{BASE}?limit=50&after=C&p=2"))
        == f"{BASE}?after=C&limit=50&p=2"
    )
    assert walk.after_next_link(Paging(cursors=Cursors(after="C"))) is None


def test_same_after_cursor_with_advancing_next_is_not_a_loop() -> None:
    """Hashtag edges repeat the after cursor on every page; distinct next links still advance."""
    walk = PageWalk()
    walk.first(BASE, {})
    assert walk.after_next_link(
        Paging(cursors=Cursors(after="SAME"), next=f"{BASE}?after=SAME&p=2")
    )
    assert walk.after_next_link(
        Paging(cursors=Cursors(after="SAME"), next=f"{BASE}?after=SAME&p=3")
    )


def test_repeated_next_link_ends_the_walk() -> None:
    """A next link equal to a request already made (token aside) stops the walk."""
    walk = PageWalk()
    walk.first(BASE, {"limit": "50"})
    assert walk.after_next_link(Paging(next=f"{BASE}?limit=50&access_token=X")) is None
    walk.after_next_link(Paging(next=f"{BASE}?limit=50&after=C"))
    assert walk.after_next_link(Paging(next=f"{BASE}?after=C&limit=50&access_token=Y")) is None


def test_tags_request_built_from_after_cursor() -> None:
    """/tags pages carry no next: the next request is the first one with after=<cursor>."""
    walk = PageWalk()
    first = walk.first("http://h/v25.0/1/tags", {"fields": "id", "limit": "50"})
    second = walk.after_cursor(first, Paging(cursors=Cursors(before="B", after="A1")))
    assert second == "http://h/v25.0/1/tags?fields=id&limit=50&after=A1"
    assert walk.after_cursor(second or "", Paging(cursors=Cursors(after="A1"))) is None
    assert walk.after_cursor(second or "", Paging(cursors=Cursors(before="B"))) is None
