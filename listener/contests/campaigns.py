"""Campaigns from the settings, as the pure rules see them."""

from __future__ import annotations

from listener.contests.verdicts import Scopes
from listener.enrich.contests import Rules
from listener.enrich.enricher import Campaign
from listener.settings import CampaignSettings, Settings


def campaign(settings: Settings, config: CampaignSettings) -> Campaign:
    """The rules of one configured campaign (the account's own handle excluded from mentions)."""
    account = settings.account(config.account)
    rules = Rules.from_campaign(
        id=config.id,
        account=config.account,
        hashtags=config.hashtags,
        starts_at=config.starts_at,
        ends_at=config.ends_at,
        min_mentions=config.min_mentions,
        exclude_usernames=config.exclude_usernames,
        one_entry_per_user=config.one_entry_per_user,
        own_username=account.username or account.name,
        unknown_authors=config.unknown_authors,
        kind=config.kind,
        posts=config.posts,
    )
    return Campaign(config.id, config.account, rules)


def campaigns(settings: Settings) -> list[Campaign]:
    """Every configured hashtag campaign (the ones that judge media)."""
    return [campaign(settings, c) for c in settings.campaigns if c.kind == "hashtags"]


def comment_campaigns(settings: Settings) -> list[CampaignSettings]:
    """Every configured comment giveaway."""
    return [c for c in settings.campaigns if c.kind == "comments"]


def scopes(settings: Settings) -> Scopes:
    """What a settling pass settles: every campaign, and every account's identity counters."""
    return Scopes(tuple(campaigns(settings)), tuple(a.name for a in settings.accounts))
