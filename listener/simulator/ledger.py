"""The 30-hashtags-in-7-days rule, per IG user (pure; time is passed in).

Meta (reference §1b): "You can query a maximum of 30 unique hashtags on behalf of an Instagram
Business or Creator Account within a rolling, 7 day period. Once you query a hashtag, it will
count against this limit for 7 days. Subsequent queries on the same hashtag within this time
frame will not count against your limit, and will not reset its initial query 7 day timer."

Whether recent_media/top_media on a cached id count is unverified, so the simulator takes the
strict reading: the first call of ANY hashtag endpoint (search, node, recent_media, top_media)
spends the slot. A slot spent at ``t`` is busy while ``now < t + 7 days``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

HASHTAG_LIMIT: Final = 30
HASHTAG_WINDOW: Final = timedelta(days=7)


class HashtagLedger:
    """First-use times of hashtags, per IG user id."""

    def __init__(self) -> None:
        self._first_use: dict[str, dict[str, datetime]] = {}

    def active(self, ig_user_id: str, now: datetime) -> dict[str, datetime]:
        """Hashtag id -> first use, for slots still busy at ``now``, oldest first."""
        spent = self._first_use.get(ig_user_id, {})
        for tag, first in list(spent.items()):
            if now >= first + HASHTAG_WINDOW:
                del spent[tag]
        return dict(sorted(spent.items(), key=lambda item: item[1]))

    def spend(self, ig_user_id: str, hashtag_id: str, now: datetime) -> bool:
        """Use ``hashtag_id`` for ``ig_user_id``; ``False`` when it would be the 31st distinct tag.

        Re-using a tag whose slot is still busy is always allowed and keeps its first-use time.
        """
        active = self.active(ig_user_id, now)
        if hashtag_id in active:
            return True
        if len(active) >= HASHTAG_LIMIT:
            return False
        self._first_use.setdefault(ig_user_id, {})[hashtag_id] = now
        return True
