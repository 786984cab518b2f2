"""How well a query matches a customer's texts, and when one match is the answer (pure functions).

Scores run 0..100; **100 is reserved for exact hits**: equal normalised name or alias, or an
exact email or website domain. :func:`classify` turns a ranked list into "winner",
"ambiguous" or "none".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from crm.normalize import acronym, phonetic_key

#: A top match scoring at least this, and WINNER_MARGIN ahead of the next, is a winner.
WINNER_MIN_SCORE = 90.0
#: How far ahead of the second match a non-exact winner must be.
WINNER_MARGIN = 8.0
#: A top match scoring at least this wins too when it leads the second by CLEAR_MARGIN.
CLEAR_MIN_SCORE = 85.0
CLEAR_MARGIN = 16.0
#: Below this the best match is not worth showing as a guess: "none".
AMBIGUOUS_MIN_SCORE = 70.0
MIN_SCORE = 50.0  # matches below this are not returned

# Weight of each kind of text relative to the customer's name.
KIND_FACTOR = {"name": 1.0, "alias": 0.99, "contact": 0.94, "domain": 0.95}


@dataclass(frozen=True)
class Match:
    """One customer found by a search: its best matching text and how well it matched."""

    customer_id: int
    score: float  # 0..100; 100 only for exact hits
    matched: str  # the original text that matched (name, alias, domain, contact name or email)
    kind: str  # "name" | "alias" | "domain" | "contact" | "email"


def classify(matches: list[Match]) -> Literal["winner", "ambiguous", "none"]:
    """Decide whether a search result picks one customer.

    Thresholds (module constants):

    * ``"winner"``: the top match is exact (score 100: same normalised name or alias,
      or the exact email / website domain) and the second is not, **or** it scores
      at least ``WINNER_MIN_SCORE`` (90) and leads the second by at least
      ``WINNER_MARGIN`` (8) points.
    * ``"none"``: no matches, or the best scores under ``AMBIGUOUS_MIN_SCORE`` (70).
    * ``"ambiguous"``: anything else, e.g. two customers with the same name, or
      "Acme" against "Acme Analytics" and "Acme Robotics".
    """
    if not matches:
        return "none"
    top = matches[0].score
    second = matches[1].score if len(matches) > 1 else 0.0
    if top >= 100.0 and second < 100.0:
        return "winner"
    if top >= WINNER_MIN_SCORE and top - second >= WINNER_MARGIN:
        return "winner"
    if top >= CLEAR_MIN_SCORE and top - second >= CLEAR_MARGIN:  # "globx": one clearly better guess
        return "winner"
    if top < AMBIGUOUS_MIN_SCORE:
        return "none"
    return "ambiguous"


def prefix_score(q: str, t: str) -> float:
    """Typeahead: every query token starts a distinct name token, in order.

    Whole leading words ("acne" for "acne studios") score a little higher than a
    partial word, so they beat a one-letter typo of a shorter name ("acme").
    """
    if t.startswith(q):
        ratio = len(q) / len(t)
        if t[len(q)] == " ":
            return 100.0 * (0.86 + 0.14 * ratio)
    else:
        qt, tt = q.split(), t.split()
        if len(qt) > len(tt):
            return 0.0
        j = 0
        for tok in qt:
            while j < len(tt) and not tt[j].startswith(tok):
                j += 1
            if j == len(tt):
                return 0.0
            j += 1
        ratio = len(q) / len(t)
    return 100.0 * (0.82 + 0.18 * ratio)


def edit_score(qs: list[str], ts: list[str]) -> float:
    """Same words in the same order, each within one typo (two for long words).

    Counts a swap of neighbouring letters as one edit, which the Indel-based
    ``fuzz.ratio`` charges twice: "prmie retail" is closer to "prime retail"
    than to "premier retail".
    """
    if len(qs) != len(ts):
        return 0.0
    edits = 0
    for a, b in zip(qs, ts, strict=True):
        if a != b:
            allowed = 0 if min(len(a), len(b)) < 4 else 1 if len(b) < 8 else 2
            d = OSA.distance(a, b, score_cutoff=allowed)
            if d > allowed:
                return 0.0
            edits += d
    return 100.0 - 4.0 * edits - 30.0 * edits / max(1, len("".join(ts)))


def one_word_score(q: str, ts: list[str], t_len: int) -> float:
    """A one-word query with a typo standing for a longer name: "cyberdine" for "cyberdyne trading".

    Scored like the exact word ("cyberdyne" for "cyberdyne trading": token-set ratio
    scaled by coverage), less four points per edit; 0 unless the word is long enough
    to carry a typo (4+ letters: one edit, 8+: two).
    """
    if len(q) < 4:
        return 0.0
    best = 0.0
    for k, word in enumerate(ts):
        if abs(len(word) - len(q)) > 2 or len(word) < 4:
            continue
        d = OSA.distance(q, word, score_cutoff=2)
        if d == 0 or d > 2 or (d == 2 and len(q) < 8 and not sounds_alike(q, word)):
            continue
        coverage = len(word) / max(1, t_len)
        # the first word reads like typeahead ("globex" for "globex electronics"); a later one like a subset
        base = 0.86 + 0.14 * coverage if k == 0 else 0.7 + 0.3 * coverage
        best = max(best, 100.0 * base - 3.0 * d)
    return best


def sounds_alike(a: str, b: str) -> bool:
    """Same first letter and the same consonant sounds: "initek" / "initech", "globx" / "globex"."""
    return a[:1] == b[:1] and phonetic_key(a) == phonetic_key(b)


def text_score(q: str, t: str) -> float:
    """Similarity 0..100 of a normalised query and a normalised name; 100 only if equal.

    The maximum of: plain ratio (typos), token-sort ratio x0.97 (word order),
    token-set ratio scaled by how much of the text the shared words cover (a
    missing word), a prefix score for typeahead, a per-word typo score
    (:func:`edit_score`), and 93 when the query is the name's acronym. Capped at 99 so that only equality scores 100.
    """
    if q == t:
        return 100.0
    if not q or not t:
        return 0.0
    # Token-set ratio is 100 whenever one side's words are a subset of the other's,
    # so scale it by how much of the longer text the shared words cover: "acme" vs
    # "acme analytics" stays below an exact "acme", and "gupta and gupta" does not
    # beat "gupta and zhang" for the query "gupta and zihang".
    # Words the query has and the text lacks cost more than the reverse.
    qs, ts = q.split(), t.split()
    common = set(qs) & set(ts)
    coverage = len(" ".join(common)) / max(len(q), len(t))
    subset_factor = 0.7 + 0.3 * coverage if len(common) == len(set(qs)) else 0.55 + 0.45 * coverage
    best = max(
        fuzz.ratio(q, t),
        fuzz.token_sort_ratio(q, t) * 0.97,
        fuzz.token_set_ratio(q, t) * subset_factor,
        prefix_score(q, t),
        edit_score(qs, ts),
    )
    if len(qs) == 1 and len(ts) > 1:
        best = max(best, one_word_score(q, ts, len(t)))
    if " " not in q and 2 <= len(q) <= 6:
        toks = t.split()
        if q == acronym(toks) or (len(toks) > 1 and q == "".join(w[0] for w in toks)):
            best = max(best, 93.0)
    return min(best, 99.0)


def _all_scores(q: str, texts: list[str], scorer) -> list[float]:
    """``scorer(q, t)`` for every text, in one call into rapidfuzz's C loop."""
    out = [0.0] * len(texts)
    for _, score, i in process.extract(q, texts, scorer=scorer, limit=None):
        out[i] = score
    return out


def text_scores(q: str, texts: list[str]) -> list[float]:
    """:func:`text_score` of ``q`` against each text, equal to it element by element, but with the
    three rapidfuzz ratios computed in C over the whole batch and the query split once."""
    if not q:
        return [100.0 if t == q else 0.0 for t in texts]
    ratios = _all_scores(q, texts, fuzz.ratio)
    sorts = _all_scores(q, texts, fuzz.token_sort_ratio)
    sets = _all_scores(q, texts, fuzz.token_set_ratio)
    qs = q.split()
    q_set = set(qs)
    n_q = len(q_set)
    one_word = len(qs) == 1
    acro = " " not in q and 2 <= len(q) <= 6
    out = []
    for k, t in enumerate(texts):
        if q == t:
            out.append(100.0)
            continue
        if not t:
            out.append(0.0)
            continue
        ts = t.split()
        common = q_set.intersection(ts)
        coverage = len(" ".join(common)) / max(len(q), len(t))
        subset_factor = 0.7 + 0.3 * coverage if len(common) == n_q else 0.55 + 0.45 * coverage
        best = max(ratios[k], sorts[k] * 0.97, sets[k] * subset_factor, prefix_score(q, t))
        if len(ts) == len(qs):
            best = max(best, edit_score(qs, ts))
        if one_word and len(ts) > 1:
            best = max(best, one_word_score(q, ts, len(t)))
        if acro and (q == acronym(ts) or (len(ts) > 1 and q == "".join(w[0] for w in ts))):
            best = max(best, 93.0)
        out.append(min(best, 99.0))
    return out
