"""Candidates for a cold workspace's look-up, straight from the database.

A replica builds a workspace's search index on first use (:mod:`crm.lookup`); for a big
workspace that takes seconds, so until it is built each look-up asks the database for a few
hundred customers worth scoring and scores them with the same in-memory index code:

- **PostgreSQL with pg_trgm** (migration 0008): the GIN trigram indexes on the customers' and
  former names' normalised names, ``%`` (similar names) or ``<%`` (the query is like a word of
  the name: "cyberdine" in "cyberdyne trading"), best first;
- **otherwise** (SQLite, or PostgreSQL without the extension): a bounded fallback, names with a
  word starting with the first three letters of one of the query's words (``LIKE``, at most
  :data:`FALLBACK_ROWS` rows read), so a typo in the first three letters is missed until warm.

Exact website domains and contact emails are looked up by their indexes on both.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, or_, select, text
from sqlalchemy.orm import Session

from crm.models import Contact, Customer
from crm.normalize import extract_domain, extract_emails, name_tokens, registrable_domain

CANDIDATES = 200  # per hint, as many as a warm index scores
FALLBACK_ROWS = 2000
_TRGM = text(
    "SELECT c.id FROM customers c WHERE c.workspace_id = :ws AND c.deleted_at IS NULL "
    "AND c.merged_into_id IS NULL AND (c.normalized_name % :q OR :q <% c.normalized_name) "
    "ORDER BY greatest(similarity(c.normalized_name, :q), word_similarity(:q, c.normalized_name)) DESC "
    "LIMIT :n"
)
_TRGM_ALIAS = text(
    "SELECT a.customer_id FROM customer_aliases a WHERE a.workspace_id = :ws "
    "AND (a.normalized % :q OR :q <% a.normalized) "
    "ORDER BY greatest(similarity(a.normalized, :q), word_similarity(:q, a.normalized)) DESC LIMIT :n"
)


def has_trigrams(session: Session) -> bool:
    """PostgreSQL with pg_trgm created (migration 0008 could)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return session.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 1


def _name_ids(session: Session, workspace_id: int, qn: str, trigrams: bool) -> list[int]:
    if trigrams:
        params = {"ws": workspace_id, "q": qn, "n": CANDIDATES}
        return [*session.scalars(_TRGM, params), *session.scalars(_TRGM_ALIAS, params)]
    words = [w[:3] for w in qn.split() if len(w) >= 2][:4]
    if not words:
        return []
    likes = []
    for w in words:
        pattern = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        likes += [
            Customer.normalized_name.like(f"{pattern}%", escape="\\"),
            Customer.normalized_name.like(f"% {pattern}%", escape="\\"),
        ]
    return list(
        session.scalars(
            select(Customer.id)
            .where(Customer.workspace_id == workspace_id, Customer.deleted_at.is_(None), or_(*likes))
            .limit(FALLBACK_ROWS)
        )
    )


def cold_candidates(session: Session, workspace_id: int, hints: Sequence[str]) -> list[Row]:
    """Rows (id, name, normalized_name, domain, deleted_at, merged_into_id) worth scoring for the
    texts about to be searched (a query, or a name the duplicate guard checks)."""
    trigrams = has_trigrams(session)
    ids: dict[int, None] = {}
    for hint in hints:
        hint = (hint or "")[:256]
        for email in extract_emails(hint)[:3]:
            ids.update(
                dict.fromkeys(
                    session.scalars(
                        select(Contact.customer_id)
                        .where(
                            Contact.workspace_id == workspace_id,
                            Contact.email == email,
                            Contact.deleted_at.is_(None),
                        )
                        .limit(CANDIDATES)
                    )
                )
            )
        domain = extract_domain(hint)
        if domain:
            keys = {domain, registrable_domain(domain)}
            ids.update(
                dict.fromkeys(
                    session.scalars(
                        select(Customer.id)
                        .where(Customer.workspace_id == workspace_id, Customer.domain.in_(keys))
                        .limit(CANDIDATES)
                    )
                )
            )
        qn = " ".join(name_tokens(hint)[:8])
        if qn:
            ids.update(dict.fromkeys(_name_ids(session, workspace_id, qn, trigrams)))
    if not ids:
        return []
    return list(
        session.execute(
            select(
                Customer.id,
                Customer.name,
                Customer.normalized_name,
                Customer.domain,
                Customer.deleted_at,
                Customer.merged_into_id,
            ).where(Customer.workspace_id == workspace_id, Customer.id.in_(list(ids)))
        ).all()
    )
