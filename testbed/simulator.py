"""The Graph API simulator's process (:mod:`testbed.simworld`) and the calls that read it."""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from listener.simulator import SimulatorConfig
from testbed.processes import Service, http
from testbed.simworld import CALLS_PATH, PUBLISHED_PATH, encode

API_VERSION = "v25.0"


class Simulator(Service):
    """A world of ``config`` served on a fixed port, on one or more loopback addresses."""

    name = "the simulator"

    def __init__(
        self,
        port: int,
        log_path: Path,
        config: SimulatorConfig,
        *,
        hosts: Sequence[str] = ("127.0.0.1",),
    ) -> None:
        super().__init__(log_path)
        self.port = port
        self.config = config
        self.hosts = list(hosts)

    @property
    def base_url(self) -> str:
        """The URL the worker's ``[graph] base_url`` points at (the first address)."""
        return self.url_on(self.hosts[0])

    def url_on(self, host: str) -> str:
        """The simulator's URL on one of its loopback addresses."""
        return f"http://{host}:{self.port}"

    def _argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "testbed.simworld",
            "--hosts",
            ",".join(self.hosts),
            "--port",
            str(self.port),
            "--config",
            encode(self.config),
        ]

    def _ready(self) -> bool:
        try:
            return http("GET", f"{self.base_url}/__sim/stats", timeout_s=2)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM (after a SIGCONT, in case it is paused), and wait for the exit."""
        self._stop(resume_first=True, hang_is_error=False)

    def calls(self) -> list[dict[str, Any]]:
        """Every Graph call so far: address, path, next_page, started, ended (epoch s)."""
        status, body = http("GET", f"{self.base_url}{CALLS_PATH}")
        assert status == 200, body
        return list(body)

    def stats(self, *, log: bool = True) -> dict[str, Any]:
        """``GET /__sim/stats``: counters, and the call log unless ``log`` is false."""
        status, body = http("GET", f"{self.base_url}/__sim/stats?log={int(log)}", timeout_s=60)
        assert status == 200, body
        return dict(body)

    def calls_by_endpoint(self) -> Counter[str]:
        """How many calls the world answered, by endpoint."""
        counts: Counter[str] = Counter()
        for row in self.stats(log=False)["calls"]:
            counts[row["endpoint"]] += int(row["count"])
        return counts

    def published(self, tags: Sequence[str]) -> dict[str, Any]:
        """What the world published on ``tags`` so far (see :mod:`testbed.simworld`)."""
        status, body = http(
            "POST",
            f"{self.base_url}{PUBLISHED_PATH}",
            json.dumps({"tags": list(tags)}).encode(),
            {"Content-Type": "application/json"},
            timeout_s=120,
        )
        assert status == 200, body
        return dict(body)

    def control(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST to the control API (``posts``, ``faults``, ...)."""
        status, body = http(
            "POST",
            f"{self.base_url}/__sim/{path}",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        return dict(body)

    def graph(self, path: str, **params: str) -> dict[str, Any]:
        """A Graph API GET as the world's first account (the caller's own view of the world)."""
        token = self.config.accounts[0].access_token
        query = urllib.parse.urlencode({**params, "access_token": token})
        status, body = http("GET", f"{self.base_url}/{API_VERSION}/{path}?{query}")
        assert status == 200, body
        return dict(body)

    def edge_media(self, hashtag: str, edge: str) -> dict[str, str]:
        """Every media a hashtag edge lists now, all pages: id → timestamp (Meta's format)."""
        user_id = self.config.accounts[0].ig_user_id
        tag_id = self.graph("ig_hashtag_search", user_id=user_id, q=hashtag)["data"][0]
        page = self.graph(
            f"{tag_id['id']}/{edge}", user_id=user_id, fields="id,timestamp", limit="50"
        )
        found: dict[str, str] = {}
        while True:
            found.update({m["id"]: m["timestamp"] for m in page.get("data", [])})
            link = page.get("paging", {}).get("next")
            if not link:
                return found
            status, page = http("GET", link)
            assert status == 200, page
