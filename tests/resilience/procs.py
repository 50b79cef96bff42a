"""The resilience tests' world on the shared process harness (:mod:`testbed`).

The processes themselves (SecantusDB, the simulator, workers) are :mod:`testbed`'s; this module
gives them the shape these tests share: the demo account in a world whose every media stays
reachable, a worker config with fast polling and budgets far above what a test can spend, and
Meta's mention delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from listener.simulator import DEMO_ACCOUNT, SimulatorConfig
from testbed import Secantus, Simulator, write_config

DEMO_IG_USER_ID = DEMO_ACCOUNT.ig_user_id
APP_SECRET = "resilience-app-secret"


def demo_simulator(
    port: int,
    log_path: Path,
    *,
    seed: int,
    hashtags: Sequence[str],
    posts_per_hour: float,
    backfill_hours: float,
    hosts: Sequence[str] = ("127.0.0.1",),
) -> Simulator:
    """A world of the demo account, ``hashtags`` at ``posts_per_hour`` each, generous budgets.

    ``listener simulate`` serves 60 posts an hour per tag with 30 hours of history: more than
    a 24-hour ``recent_media`` window holds in ten pages, so media age out by design. These
    tests need a world whose every media stays reachable.
    """
    config = SimulatorConfig(
        seed=seed,
        accounts=(DEMO_ACCOUNT,),
        hashtag_rates=dict.fromkeys(hashtags, posts_per_hour),
        default_rate_per_hour=0.0,
        backfill_hours=backfill_hours,
        tag_rate_per_hour=0.0,
        app_calls_per_hour=1_000_000,
        buc_calls_per_hour=1_000_000,
    )
    return Simulator(port, log_path, config, hosts=hosts)


def mention(media_id: str, at: int) -> dict[str, Any]:
    """Meta's ``mentions`` delivery for a caption mention of the demo account."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": DEMO_IG_USER_ID,
                "time": at,
                "changes": [{"field": "mentions", "value": {"media_id": media_id}}],
            }
        ],
    }


def worker_config(
    *,
    mongodb_uri: str,
    database: str,
    graph_url: str,
    hashtags: Sequence[str],
    port: int = 0,
    replica: str = "",
    lease_ttl_s: float = 60.0,
    interval_s: float = 2.0,
    max_interval_s: float = 4.0,
    store_timeout_s: float = 2.0,
    graph_timeout_s: float = 5.0,
    inbox_claim_s: float = 3.0,
) -> dict[str, Any]:
    """A worker's config: the demo account on the standalone simulator, fast polling, no
    in-process simulator, a webhook secret, and budgets far above what a test can spend."""
    return {
        "graph": {"base_url": graph_url, "app_secret": APP_SECRET, "timeout_s": graph_timeout_s},
        "store": {"mongodb_uri": mongodb_uri, "database": database, "timeout_s": store_timeout_s},
        "server": {"port": port},
        "polling": {
            "hashtag_interval_s": interval_s,
            "tags_interval_s": interval_s,
            "min_interval_s": 1,
            "max_interval_s": max_interval_s,
            "jitter_ratio": 0.2,
            "max_pages": 50,
            "inbox_claim_s": inbox_claim_s,
            "inbox_workers": 2,
        },
        "ratelimit": {
            "app_calls_per_hour": 360000,
            "account_calls_per_hour": 360000,
            "max_attempts": 3,
            "backoff_initial_s": 0.5,
            "backoff_max_s": 2,
        },
        "cluster": {"replica": replica, "lease_ttl_s": lease_ttl_s, "sync_s": 1},
        "simulator": {"enabled": False},
        "accounts": [
            {
                "name": "brand",
                "ig_user_id": DEMO_IG_USER_ID,
                "access_token": DEMO_ACCOUNT.access_token,
                "hashtags": list(hashtags),
                "tags": False,
                "mentions": True,
            }
        ],
    }


def write_worker_config(
    path: Path,
    mongo: Secantus,
    database: str,
    sim: Simulator,
    hashtags: Sequence[str],
    **options: Any,
) -> Path:
    """Write :func:`worker_config` for a worker on ``mongo``'s ``database`` and ``sim`` to
    ``path``; ``options`` are the rest of its keywords."""
    return write_config(
        path,
        worker_config(
            mongodb_uri=mongo.uri,
            database=database,
            graph_url=sim.base_url,
            hashtags=hashtags,
            **options,
        ),
    )
