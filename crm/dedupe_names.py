"""How alike two normalised company names are, with the words weighted by how common they are.

Pure functions over one workspace's names (no database). :class:`Names` is built once per
duplicate run from every normalised name; it knows how many names use each word, so a
word that half the workspace shares ("Chicago Public Schools …", "Restaurant") counts
for less than a rare one, and it knows each name's *qualifiers*: the words that tell
branches apart (East/West, II/III, a number, text in brackets, "… of Lawndale").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from nameparser import HumanName
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from crm.normalize import name_tokens

DIRECTIONS = frozenset(
    "east west north south northeast northwest southeast southwest upper lower central nord sud ost est ouest".split()
)
ROMAN = frozenset("ii iii iv v vi vii viii ix x xi xii".split())
_BRACKETS = re.compile(r"[(\[{]([^)\]}]{1,80})[)\]}]")

TOKEN_MIN_RATIO = 75.0  # two words at least this alike count as the same word with a typo
INITIAL_WEIGHT = 0.3  # a leading one- or two-letter word ("E.I. du Pont") counts this much
STRONG_QUALIFIER = 40.0  # both names carry a qualifier and they differ: "East" / "West"
WEAK_QUALIFIER = 8.0  # only one name carries a number, direction or numeral


class _Features(NamedTuple):
    tokens: list[str]
    ids: tuple[int, ...]
    weights: tuple[float, ...]  # each word's weight (a leading initial counts less)
    total: float
    spaceless: str
    rarest: str  # the heaviest word of a name of two or more words, else ""


class Names:
    """Tokens, word frequencies and qualifiers of a workspace's normalised names."""

    def __init__(
        self,
        normalized: Sequence[str],
        *,
        raw: Sequence[str] | None = None,
        aliases: Sequence[tuple[str, ...]] | None = None,
    ) -> None:
        self.normalized = list(normalized)
        self.tokens = [n.split() for n in self.normalized]
        self.spaceless = [n.replace(" ", "") for n in self.normalized]
        self.aliases = list(aliases) if aliases is not None else [() for _ in self.normalized]
        df: Counter[str] = Counter()
        for toks in self.tokens:
            df.update(set(toks))
        for alias_list in self.aliases:
            for alias in alias_list:
                df.update(set(alias.split()))
        self.df = df
        self._weights: dict[str, float] = {}
        self._ids: dict[str, int] = {}  # word -> small int, for the cache below
        self._sims: dict[int, float] = {}  # similarity of word pairs seen, for speed
        self._pair_scores: dict[tuple[str, str], float] = {}  # score of name text pairs seen
        # Per name text: its words, their ids and weights, the total weight, the name without spaces.
        self._features: dict[str, _Features] = {}
        self.n = max(2, len(self.normalized))
        self._distinctive_max = max(3, self.n // 100)
        self.qualifier_words = [_qualifiers(toks) for toks in self.tokens]
        self.brackets: list[frozenset[str]] = [frozenset() for _ in self.normalized]
        self.core = list(self.normalized)  # the name without the words in brackets
        if raw is not None:
            for i, name in enumerate(raw):
                found = _BRACKETS.findall(name or "")
                if found:
                    inside = frozenset(t for part in found for t in name_tokens(part))
                    self.brackets[i] = inside
                    core = [t for t in self.tokens[i] if t not in inside]
                    if core:
                        self.core[i] = " ".join(core)
        # Each name's qualifiers and bracketed words: what tells its branch or place (mostly empty).
        self._qualified = [q | b if b else q for q, b in zip(self.qualifier_words, self.brackets, strict=True)]

    # -- word weights ---------------------------------------------------------------------
    def weight(self, token: str) -> float:
        w = self._weights.get(token)
        if w is None:
            w = self._weights[token] = math.log(1.0 + self.n / max(1, self.df.get(token, 1)))
        return w

    def is_distinctive(self, token: str) -> bool:
        """A word few names use (at most 1% of them, or 3)."""
        return self.df.get(token, 0) <= self._distinctive_max

    # -- similarity -----------------------------------------------------------------------
    def similarity(self, i: int, j: int) -> tuple[float, str]:
        """0..100 and the words for it; 100 only for the same name or former name."""
        a, b = self.normalized[i], self.normalized[j]
        if a and a == b:
            return 100.0, "same name"
        aliases_a, aliases_b = self.aliases[i], self.aliases[j]
        if (aliases_a or aliases_b) and ({a, *aliases_a} & {b, *aliases_b}) - {""}:
            return 100.0, "same as a former name"
        core_a, core_b = self.core[i], self.core[j]
        if (core_a != a or core_b != b) and core_a == core_b:
            return 98.0, "same name apart from the words in brackets"
        if not a or not b:
            return 0.0, ""
        if self.spaceless[i] == self.spaceless[j]:
            return 97.0, "same name written with different spacing"
        if not aliases_a and not aliases_b:
            best = self._pair_score(core_a, core_b) if core_a and core_b else 0.0
        else:
            best = 0.0
            for x in (core_a, *aliases_a):
                for y in (core_b, *aliases_b):
                    if x and y:
                        best = max(best, self._pair_score(x, y))
        best = min(best, 99.0)
        return best, f"similar name ({best:.0f}%)"

    def _feature(self, x: str) -> _Features:
        """The words of one name text with their ids and weights, computed once per run."""
        f = self._features.get(x)
        if f is None:
            xs = x.split()
            ids = self._ids
            ws = tuple(self._token_weight(xs, k) for k in range(len(xs)))
            rarest = max(xs, key=self.weight) if len(xs) >= 2 else ""
            f = self._features[x] = _Features(
                xs, tuple(ids.setdefault(t, len(ids)) for t in xs), ws, sum(ws), x.replace(" ", ""), rarest
            )
        return f

    def _pair_score(self, x: str, y: str) -> float:
        # Names repeat (about half the pairs of 100k generated customers are a pair of texts seen
        # before), and the score is symmetric: each pair of texts is scored once per run.
        key = (x, y) if x <= y else (y, x)
        score = self._pair_scores.get(key)
        if score is None:
            if len(self._pair_scores) > 1_000_000:  # bounded memory on huge workspaces
                self._pair_scores.clear()
            score = self._pair_scores[key] = self._score_texts(x, y)
        return score

    def _score_texts(self, x: str, y: str) -> float:
        fx, fy = self._feature(x), self._feature(y)
        cov_x, cov_y = self._coverages(fx, fy)
        # A name wholly inside the other ("Four Seasons" / "Four Seasons Grill Room") is
        # closer than two names sharing half their weight ("Acme Analytics" / "Acme Robotics").
        score = 100.0 * (0.6 * max(cov_x, cov_y) + 0.4 * min(cov_x, cov_y))
        if score >= 50.0 and score < 97.0:  # joined or split words with a typo
            spaceless = fuzz.ratio(fx.spaceless, fy.spaceless, score_cutoff=92.0)
            score = max(score, spaceless - 2.0)
        # One word standing for a longer name: "cyberdine" for "Cyberdyne Trading".
        for single, other in ((fx, fy), (fy, fx)):
            if len(single.tokens) == 1 and len(other.tokens) >= 2 and len(single.tokens[0]) >= 4:
                sim = _token_sim(single.tokens[0], other.rarest)
                if sim >= 0.8:
                    score = max(score, 80.0 + 10.0 * sim)
        return score

    def _coverages(self, fx: _Features, fy: _Features) -> tuple[float, float]:
        """How much of x's weight is found in y, and of y's in x (0..1 each)."""
        sims = self._sims
        get = sims.get
        xs, ys = fx.tokens, fy.tokens
        y_ids = fy.ids
        x_weights = fx.weights
        best_y = [0.0] * len(ys)
        found_x = 0.0
        for k, ti in enumerate(fx.ids):
            best = 0.0
            for m, ui in enumerate(y_ids):
                if ti == ui:
                    sim = 1.0
                else:
                    key = (ti << 32) | ui if ti < ui else (ui << 32) | ti
                    sim = get(key, -1.0)
                    if sim < 0.0:
                        sim = sims[key] = _token_sim(xs[k], ys[m])
                if sim > best:
                    best = sim
                if sim > best_y[m]:
                    best_y[m] = sim
            found_x += x_weights[k] * best
        found_y = 0.0
        for w, best in zip(fy.weights, best_y, strict=True):
            found_y += w * best
        if len(sims) > 2_000_000:  # bounded memory on huge workspaces
            sims.clear()
        total_x, total_y = fx.total, fy.total
        return (found_x / total_x if total_x else 0.0), (found_y / total_y if total_y else 0.0)

    def _token_weight(self, toks: list[str], k: int) -> float:
        w = self.weight(toks[k])
        if k == 0 and len(toks[0]) <= 2 and len(toks) >= 3:  # a leading initial
            w *= INITIAL_WEIGHT
        return w

    # -- qualifiers -----------------------------------------------------------------------
    def qualifier_conflict(self, i: int, j: int) -> tuple[float, str] | None:
        """(penalty, words) when the names carry different branch or place qualifiers."""
        qa, qb = self._qualified[i], self._qualified[j]
        if qa == qb:
            return None
        only_a = qa.difference(self.tokens[j])
        only_b = qb.difference(self.tokens[i])
        if only_a and only_b:
            words = f"{' '.join(sorted(only_a))} / {' '.join(sorted(only_b))}"
            return STRONG_QUALIFIER, f"but different qualifiers ({words})"
        one = only_a or only_b
        if one and any(_is_hard_qualifier(t) for t in one):
            return WEAK_QUALIFIER, f"but only one says {' '.join(sorted(one))}"
        return None


def _token_sim(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if min(len(a), len(b)) < 3 or a.isdigit() or b.isdigit():
        return 0.0
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 4 and long.startswith(short):  # "deli" for "delicatessen"
        return 0.9
    if 5 * len(short) < 3 * len(long):
        # Exact shortcut: the ratio is at most 200 * short / (short + long) < 75 then, and the
        # lengths differ by more than the two typos allowed (short has at least three letters).
        return 0.0
    # One typo (two in a long word) costs half a letter: "nobel" / "novel" is 0.9.
    allowed = 1 if len(long) < 8 else 2
    d = OSA.distance(a, b, score_cutoff=allowed)
    if d <= allowed and len(short) >= 4:
        return 1.0 - 0.5 * d / len(long)
    r = fuzz.ratio(a, b, score_cutoff=TOKEN_MIN_RATIO)
    return r / 100.0


def _is_hard_qualifier(t: str) -> bool:
    # (a word of letters only has no digit: most words, told in C)
    return t in DIRECTIONS or t in ROMAN or (not t.isalpha() and any(c.isdigit() for c in t))


def _qualifiers(toks: list[str]) -> frozenset[str]:
    """Branch and place words of one name: directions, numerals, numbers, the place after "of"."""
    if len(toks) < 2:
        return frozenset()
    out = {t for t in toks[1:] if _is_hard_qualifier(t)}
    if len(toks) >= 3 and "of" in toks[1:-1]:
        k = len(toks) - 1 - toks[::-1].index("of")
        out.update(toks[k + 1 :])
    return frozenset(out)


def person_parts(name: str) -> tuple[str, str]:
    """(first, last) of a person's name, titles, middle names and suffixes aside, normalised.

    "Dr. Jane Q. Smith", "Smith, Jane" and "Ms Jane Smith Jr." all give ("jane", "smith").
    """
    parsed = HumanName((name or "")[:200])
    first = " ".join(name_tokens(parsed.first))
    last = " ".join(name_tokens(parsed.last))
    return first, last


def person_score(a: str, b: str) -> float:
    """0..100 for two people's names; 100 when first and last name agree (titles and middle names aside).

    An initial matches a first name ("J. Smith" / "Jane Smith": 90); the last names may differ
    by a typo. Names without a last name are not compared this way (0).
    """
    fa, la = person_parts(a)
    fb, lb = person_parts(b)
    if not la or not lb or not fa or not fb:
        return 0.0
    last = 1.0 if la == lb else _token_sim(la, lb)
    if last == 0.0:
        return 0.0
    if fa == fb:
        first = 1.0
    elif (len(fa) == 1 or len(fb) == 1) and fa[0] == fb[0]:
        first = 0.9
    else:
        first = _token_sim(fa, fb)
    return 100.0 * (0.5 * first + 0.5 * last) if first else 0.0
