"""Every Prometheus metric of the worker, in one place, on an injected registry.

Labels are bounded values only (endpoint names, outcomes, account names, at most 30 hashtags
per account): never media ids, captions or usernames. The names and labels of the contract's
metrics are a promise to dashboards; add new ones rather than change those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import product

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from listener import __version__
from listener.models import CommentSource

_INGEST_RESULTS = ("new", "duplicate", "refused")

# ``*_created`` series double every counter's series and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


LiveSamples = Callable[[], Iterable[tuple[tuple[str, ...], float]]]


class _LiveGauge(Collector):
    """A gauge read at scrape time from a source, so it is never stale between events.

    A pause ends by the clock, not by an event; a gauge set on events would keep saying
    "throttled" until the next call.
    """

    def __init__(
        self, name: str, documentation: str, labels: list[str], source: LiveSamples
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = labels
        self._source = source

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labels)
        for labels, value in self._source():
            family.add_metric(list(labels), value)
        yield family


class Metrics:
    """The worker's metrics, registered on ``registry`` (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.build_info = Info(
            "listener_build", "Version of the running listener", registry=registry
        )
        self.build_info.info({"version": __version__})

        self._graph(registry)
        self._polls(registry)
        self._inbox(registry)
        self._enrichment(registry)
        self._health(registry)
        self._comments(registry)

    def _graph(self, registry: CollectorRegistry) -> None:
        """Graph API calls and Meta's rate limits."""
        self.graph_requests = Counter(
            "listener_graph_requests_total",
            "Graph API requests by endpoint and outcome",
            ["endpoint", "outcome"],
            registry=registry,
        )
        self.graph_duration = Histogram(
            "listener_graph_request_duration_seconds",
            "Graph API request latency, including reading the body",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.rate_limit_usage = Gauge(
            "listener_rate_limit_usage_ratio",
            "Share of a rate-limit scope used, as Meta's usage headers report it (1.0 = throttled)",
            ["scope", "account", "metric"],
            registry=registry,
        )

    def _polls(self, registry: CollectorRegistry) -> None:
        """The hashtag quota and the feeds' polls."""
        self.hashtag_quota_remaining = Gauge(
            "listener_hashtag_quota_remaining",
            "Distinct hashtags the account may still query in the rolling 7 days (of 30)",
            ["account"],
            registry=registry,
        )
        self.media_ingested = Counter(
            "listener_media_ingested_total",
            "Media sightings stored, new media versus ones already known",
            ["source", "hashtag", "result"],
            registry=registry,
        )
        self.last_poll_success = Gauge(
            "listener_last_poll_success_timestamp_seconds",
            "Unix time of the last successful poll of a poller for an account",
            ["poller", "account"],
            registry=registry,
        )
        self.polls = Counter(
            "listener_polls_total",
            "Feed polls by poller and outcome (ok, failed)",
            ["poller", "account", "outcome"],
            registry=registry,
        )
        self.poll_pages = Counter(
            "listener_poll_pages_total",
            "Pages fetched by pollers",
            ["poller", "account"],
            registry=registry,
        )

    def _inbox(self, registry: CollectorRegistry) -> None:
        """Webhook events and the inbox worker."""
        self.webhook_events = Counter(
            "listener_webhook_events_total",
            "Webhook changes received, by field and outcome",
            ["field", "outcome"],
            registry=registry,
        )
        self.inbox_depth = Gauge(
            "listener_inbox_depth",
            "Webhook events stored and not yet settled (pending or in work)",
            registry=registry,
        )
        self.inbox_oldest_age = Gauge(
            "listener_inbox_oldest_pending_age_seconds",
            "Age of the oldest webhook event not yet settled (0 when none waits)",
            registry=registry,
        )

    def _enrichment(self, registry: CollectorRegistry) -> None:
        """Identity, sentiment and contest entries."""
        self.identity_known = Gauge(
            "listener_hashtag_media_author_known_ratio",
            "Share of an account's hashtag media whose author is known (seen via /tags or a "
            "mention as well)",
            ["account"],
            registry=registry,
        )
        self.sentiment = Counter(
            "listener_sentiment_total",
            "Sentiment labels given to new media",
            ["label", "hashtag"],
            registry=registry,
        )
        self.contest_entries = Counter(
            "listener_contest_entries_total",
            "Contest verdicts given to new media",
            ["campaign", "eligible"],
            registry=registry,
        )
        self.contest_author_known = Gauge(
            "listener_contest_author_known_ratio",
            "Share of a campaign's entrants whose author is known (the rest are marked "
            "verify_author when drawn), as of the last settling pass",
            ["campaign"],
            registry=registry,
        )

    def _comments(self, registry: CollectorRegistry) -> None:
        """Comments on the account's own posts and comment giveaways."""
        self.comments_ingested = Counter(
            "listener_comments_ingested_total",
            "Comments on the account's own posts stored, new versus already known, by source",
            ["account", "source", "result"],
            registry=registry,
        )
        self.comment_sentiment = Counter(
            "listener_comment_sentiment_total",
            "Sentiment labels given to new comments on the account's own posts",
            ["account", "label"],
            registry=registry,
        )
        self.comment_contest_entries = Gauge(
            "listener_comment_contest_entries",
            "Top-level comments of a comment giveaway's posts, eligible or not, as of the last "
            "settling pass",
            ["campaign", "eligible"],
            registry=registry,
        )

    def _health(self, registry: CollectorRegistry) -> None:
        """Pacing shortfalls, usage-header problems, token expiry and the store."""
        self.feed_possibly_missed = Counter(
            "listener_feed_possibly_missed_total",
            "Polls after which media may have been missed (page bound hit, or the oldest new "
            "media was near the 24 h edge of recent_media)",
            ["poller", "account", "hashtag"],
            registry=registry,
        )
        self.feed_interval = Gauge(
            "listener_feed_interval_seconds",
            "The interval the scheduler currently gives a feed",
            ["poller", "account", "hashtag"],
            registry=registry,
        )
        self.usage_header_problems = Counter(
            "listener_usage_header_problems_total",
            "Usage headers from Meta that could not be read in full",
            registry=registry,
        )
        self.token_expiry = Gauge(
            "listener_token_expiry_timestamp_seconds",
            "Unix time at which the account's access token expires (0 = never)",
            ["account"],
            registry=registry,
        )
        self.store_up = Gauge(
            "listener_store_up",
            "1 while MongoDB answers, else 0",
            registry=registry,
        )

    def register_throttled(self, paused: LiveSamples) -> None:
        """Register ``listener_throttled``, read from ``paused`` at every scrape.

        Its source is the governor, so the gauge is built with the governor rather than before
        it: a worker registers it once, when its governor exists.
        """
        self.registry.register(
            _LiveGauge(
                "listener_throttled",
                "1 while a rate-limit scope is paused after a throttle, else 0",
                ["scope", "account"],
                paused,
            )
        )

    def start_comment_series(self, accounts: Iterable[str], labels: Iterable[str]) -> None:
        """Give each account that reads comments its comment series at 0 from the start.

        A counter's labelled series exists only once incremented: without this, a quiet
        account would show "no data" on the dashboard rather than no comments, and a rate
        over the first comment would miss it.
        """
        sentiment_labels = tuple(labels)
        for account in accounts:
            for source, result in product(CommentSource, _INGEST_RESULTS):
                self.comments_ingested.labels(account, source.value, result)
            for label in sentiment_labels:
                self.comment_sentiment.labels(account, label)
