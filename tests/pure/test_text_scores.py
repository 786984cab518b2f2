"""The batched scorer used by look-up equals the one-pair scorer, text by text."""

from __future__ import annotations

import random

import pytest

from crm.search.scoring import text_score, text_scores

NAMES = [
    "",
    "a",
    "acme",
    "acme analytics",
    "acme analytics group",
    "cyberdyne trading",
    "globex electronics",
    "initech consulting",
    "international business machines",
    "prime retail",
    "premier retail",
    "gupta and zhang",
    "gupta and gupta",
    "salesforce",
    "sales force",
    "株式会社 トヨタ",
]


QUERIES = ["acme", "cyberdine", "globx", "initek", "ibm", "prmie retail", "gupta and zihang", ""]


@pytest.mark.parametrize("query", QUERIES)
def test_text_scores_equal_text_score(query: str) -> None:
    assert text_scores(query, NAMES) == [text_score(query, t) for t in NAMES]


def test_text_scores_equal_text_score_on_random_names() -> None:
    rng = random.Random(7)
    words = ["acme", "acne", "nordic", "timber", "group", "and", "of", "the", "ab", "x", "electro", "elektro"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(400)]
    for query in texts[:40]:
        assert text_scores(query, texts) == [text_score(query, t) for t in texts]
