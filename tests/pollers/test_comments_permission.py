"""The comments poller with a token that lacks the manage-comments permission."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from listener.errors import GraphPermissionError
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.simulator import SimulatorConfig
from listener.store.store import Store
from tests.graphsim import BRAND, NOW, Graph
from tests.pollers.test_comments import brand_post, feed


@pytest.fixture
def sim_config(sim_config: SimulatorConfig) -> SimulatorConfig:
    """The brand's token grants instagram_basic only."""
    basic = replace(BRAND, scopes=("instagram_basic", "pages_read_engagement"))
    return replace(sim_config, accounts=(basic, *sim_config.accounts[1:]))


async def test_missing_permission_turns_the_comments_feature_off_once(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Code 10 on the comments edge: the poll fails with a permission error, and reported, the
    account's comments feature is off, stated once, naming the permission it needs."""
    media_id = brand_post(graph)
    graph.world.publish_comments(media_id, 3, start=NOW - timedelta(hours=1))
    comments = feed(graph, store, metrics)
    accounts = Accounts(
        {"brand": comments._accounts.who("brand")}, metrics=metrics, clock=graph.clock
    )
    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(GraphPermissionError) as raised:
                await comments.poll()
            accounts.report("brand", comments.feature, raised.value)
    disabled = [e for e in logs if e["event"] == "feature.disabled"]
    assert len(disabled) == 1
    assert "instagram_manage_comments" in disabled[0]["needs"]
    assert accounts.blocked("brand", "comments") is not None
    assert accounts.blocked("brand", "tags") is None
