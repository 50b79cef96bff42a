"""What the simulator was asked, for tests and benchmarks: counters and a call log (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CallRecord:
    """One Graph API call: when, which endpoint, for which IG user, and how it ended."""

    at: datetime
    endpoint: str
    ig_user_id: str
    outcome: str  # ok, throttled, auth_error, client_error, server_error, malformed
    code: int | None = None  # the Graph error code when the call failed
    fault: str | None = None  # the scripted fault it suffered, if any
    hashtag: str | None = None  # the hashtag name for hashtag endpoints


class Stats:
    """Every call the simulator answered, counted by (endpoint, IG user) and by outcome."""

    def __init__(self) -> None:
        self.log: list[CallRecord] = []
        self.calls: Counter[tuple[str, str]] = Counter()
        self.outcomes: Counter[str] = Counter()

    def record(self, call: CallRecord) -> None:
        """Count one answered call."""
        self.log.append(call)
        self.calls[(call.endpoint, call.ig_user_id)] += 1
        self.outcomes[call.outcome] += 1

    def count(
        self,
        endpoint: str | None = None,
        ig_user_id: str | None = None,
        outcome: str | None = None,
        *,
        since: datetime | None = None,
    ) -> int:
        """Calls matching every filter given."""
        return sum(
            1
            for call in self.log
            if (endpoint is None or call.endpoint == endpoint)
            and (ig_user_id is None or call.ig_user_id == ig_user_id)
            and (outcome is None or call.outcome == outcome)
            and (since is None or call.at >= since)
        )

    def as_json(self, *, with_log: bool) -> dict[str, object]:
        """A JSON-ready summary (the control API's ``GET /__sim/stats``)."""
        summary: dict[str, object] = {
            "total": len(self.log),
            "calls": [
                {"endpoint": endpoint, "ig_user_id": user, "count": n}
                for (endpoint, user), n in sorted(self.calls.items())
            ],
            "outcomes": dict(sorted(self.outcomes.items())),
        }
        if with_log:
            summary["log"] = [
                {
                    "at": call.at.isoformat(),
                    "endpoint": call.endpoint,
                    "ig_user_id": call.ig_user_id,
                    "outcome": call.outcome,
                    "code": call.code,
                    "fault": call.fault,
                    "hashtag": call.hashtag,
                }
                for call in self.log
            ]
        return summary
