"""Draw records made in memory, for the certificate's tests and its picture."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from listener.enrich.contests import Rules, rules_document, rules_version
from listener.enrich.draw import DrawRecord, Entrant, commit, record_draw


def record_of(
    rules: Rules,
    entrants: Sequence[Entrant],
    *,
    seed: str,
    winners: int,
    alternates: int,
    committed_at: datetime,
    drawn_at: datetime,
) -> DrawRecord:
    """The record of a draw of ``entrants`` under ``rules``, committed and drawn at those times."""
    ids = [e.entry_id for e in entrants]
    exported = "\n".join(ids).encode()
    frozen = commit(
        campaign_id=rules.campaign_id,
        rules_version=rules_version(rules),
        exported=exported,
        entry_ids=ids,
        seed_commitment=hashlib.sha256(seed.encode()).hexdigest(),
        committed_at=committed_at,
        entrants_format="entrants-csv/2",
        rules=rules_document(rules),
    )
    return record_draw(
        frozen,
        seed=seed,
        exported=exported,
        entry_ids=ids,
        winners=winners,
        alternates=alternates,
        drawn_at=drawn_at,
        entrants=entrants,
    )
