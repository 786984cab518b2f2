"""Probable duplicate customers and contacts, found without comparing every pair.

Records are first put into *blocks* that share a normalised key: the same normalised
name or former name, the same website domain (never a free-mail one), the same contact
email or phone, or the same short name prefix ("acme|ana" for "Acme Analytics"). Only
records within one block are scored against each other with rapidfuzz, so the work
grows with the number of records, not with its square. A prefix block that grows past
:data:`MAX_BLOCK` members (a very common first word) is scanned as a sorted window of
neighbours instead of all pairs, which keeps the cost linear there too.

Pure scoring lives in :func:`customer_pairs` / :func:`contact_pairs` (no database);
:func:`find_duplicates` loads a workspace and proposes which record of each pair to keep.
Used by ``crm-bot dedupe``, ``/crm duplicates`` and the importer's duplicate report.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.collector import collector_paused
from crm.dedupe_names import Names as _Names
from crm.dedupe_names import person_parts, person_score
from crm.models import Activity, Contact, Customer, CustomerAlias, Deal
from crm.normalize import is_free_email_domain, is_only_legal_form, phonetic_key

MIN_SCORE = 88.0  # pairs scoring below this are not reported ("Lake Apparel" / "Lan Apparel" is 87)
SAME_SCORE = 92.0  # at least this, with nothing against it: "same"; otherwise "review"
MAX_BLOCK = 100  # blocks larger than this are scanned as a sorted window
WINDOW = 12  # neighbours compared in a sorted window
MAX_SOUND_BLOCK = 16  # the same for the spelling and sound keys (letters of the spaceless name, phonetic keys)
MAX_GROUP = 25  # more records than this sharing a phone, website or name: reported as a group
# Up to this many records of one real name (not "GmbH") are still paired, every pair, so each can
# be merged; the report lists the group and each record against the group's keeper.
MAX_NAME_PAIRS = 200
Q = 5  # letters of the spaceless name's start and end used as block keys

NAME_FLOOR = 70.0  # a shared phone, website or address counts only for names at least this similar
EVIDENCE_BONUS = 12.0  # per shared phone, website, address or contact email
DIFFERENT_EVIDENCE = 6.0  # per phone, website or address that both have and that differ
REVIEW_SCORE = 90.0  # a shared contact email under a different name
PREFILTER_MARGIN = 8.0  # names whose token-set similarity is further below the threshold are not scored

_Ints = NDArray[np.int64]  # record indexes, one per pair of a batch
_Mask = NDArray[np.bool_]

# A workspace has far fewer distinct domains than pairs to compare: each is looked up once.
_free_domain = lru_cache(maxsize=1 << 16)(is_free_email_domain)

# Scores of contact reasons.
SAME_EMAIL = 95.0
SAME_PHONE = 90.0


@dataclass
class CustomerRecord:
    """What duplicate detection needs to know about one customer (existing or to be imported)."""

    key: Hashable  # a customer id, or any other key (the importer uses ("line", n))
    name: str
    normalized: str
    domain: str | None = None
    aliases: tuple[str, ...] = ()  # normalised former names
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    # Address keys such as "<postal code>|<street number>": filled where address fields exist.
    addresses: set[str] = field(default_factory=set)
    weight: int = 0  # linked contacts + deals + activities: the heavier record is kept
    # The domain of ``website`` and whether it is a real website, worked out once per domain.
    _site: tuple[str | None, bool] = field(default=(None, False), init=False, repr=False, compare=False)

    @property
    def website(self) -> str | None:
        """The domain, unless it is a free-mail one (gmail.com is never evidence)."""
        domain = self.domain
        if not domain:
            return None
        of, real = self._site
        if of != domain:
            real = not _free_domain(domain)
            self._site = (domain, real)
        return domain if real else None


@dataclass
class ContactRecord:
    key: Hashable
    name: str
    normalized: str
    customer_key: Hashable
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Pair:
    """Two records that are probably the same, with a 0..100 score and why.

    ``reasons`` are the evidence in words, for first, then against ("but different
    phones (…)"). ``verdict`` is "same" when nothing speaks against the pair and the
    score is high, "review" when a person should look.
    """

    a: Hashable
    b: Hashable
    score: float
    reasons: tuple[str, ...]
    verdict: str = "same"


@dataclass(frozen=True)
class Group:
    """Many records sharing one key, reported together instead of as pairs."""

    what: str  # "share the phone +13105550100", "are named “starbucks”"
    size: int
    sample: tuple[str, ...]  # a few of their names
    members: tuple[tuple[Hashable, str], ...] = ()  # every record's (key, name), for a full listing
    paired: bool = False  # one real name: every pair inside was scored and reported too
    # What they share: "name" (one normalised name: duplicates, or a junk name such as "GmbH"),
    # "branches" (one name apart from numbers or branch words), or an evidence word ("phone", ...).
    kind: str = ""


# -- scoring ----------------------------------------------------------------------------
def _combine(reasons: dict[str, float]) -> float:
    """The best reason's score, plus two points per further reason, at most 100."""
    if not reasons:
        return 0.0
    return min(100.0, max(reasons.values()) + 2.0 * (len(reasons) - 1))


def name_score(a: str, b: str) -> float:
    """Similarity 0..100 of two normalised names without workspace context; 100 only when equal."""
    return _Names([a, b]).similarity(0, 1)[0]


def prefix_keys(normalized: str) -> list[str]:
    """Fuzzy block keys of a normalised name: short prefixes that survive one typo."""
    toks = normalized.split()
    if not toks:
        return []
    if len(toks) == 1:
        t = toks[0]
        return [f"1:{t[:4]}", f"1z:{t[-4:]}"] if len(t) >= 4 else [f"1:{t}"]
    t1, t2 = toks[0], toks[1]
    return [f"2:{t1[:4]}|{t2[:3]}", f"2b:{t1[:2]}|{t2[-3:]}"]


def _evidence_keys(rec: CustomerRecord) -> Iterable[str]:
    """Block keys of a record's exact evidence: website domain, contact emails and phones, addresses."""
    if rec.website:
        yield f"d:{rec.website}"
    for email in rec.emails:
        yield f"e:{email}"
    for phone in rec.phones:
        yield f"p:{phone}"
    for address in rec.addresses:
        yield f"a:{address}"


# Keys whose big blocks are scanned as a sorted window of neighbours (the rest are skipped when big).
_WINDOWED = frozenset(["n", "qp", "1", "1z", "2", "2b"])
# Keys whose blocks are compared pair by pair up to MAX_BLOCK members; the others up to MAX_SOUND_BLOCK.
_CLASSIC = frozenset(["n", "b", "1", "1z", "2", "2b", *"depa"])
_EVIDENCE_WORDS = {"d": "website", "e": "contact email", "p": "phone", "a": "address"}


def _block_pairs(
    members: list[int], *, sort_key: Callable[[int], str], limit: int = MAX_BLOCK
) -> Iterable[tuple[int, int]]:
    """Index pairs to compare within one block, without going quadratic on big blocks."""
    n = len(members)
    if n < 2:
        return
    if n <= limit:
        for i in range(n):
            for j in range(i + 1, n):
                yield members[i], members[j]
        return
    ordered = sorted(members, key=sort_key)
    for i in range(n):
        for j in range(i + 1, min(n, i + 1 + WINDOW)):
            yield ordered[i], ordered[j]


def _block_codes(blocks: list[list[int]], n: int) -> _Ints:
    """Every pair ``i < j`` of each block (ascending, distinct members) as a code ``i * n + j``;
    the blocks of one size are paired together in numpy."""
    by_size: dict[int, list[list[int]]] = defaultdict(list)
    for members in blocks:
        by_size[len(members)].append(members)
    out = [np.zeros(0, dtype=np.int64)]
    for size, same in by_size.items():
        stack = np.array(same, dtype=np.int64)
        first, second = np.triu_indices(size, 1)
        out.append((stack[:, first] * n + stack[:, second]).ravel())
    return np.concatenate(out)


def _window_codes(ordered: list[int], n: int) -> _Ints:
    """The pairs of each member of a sorted block with its next :data:`WINDOW` neighbours (what
    :func:`_block_pairs` yields for a big block), as codes ``i * n + j`` with ``i < j``."""
    at = np.array(ordered, dtype=np.int64)
    out = [np.zeros(0, dtype=np.int64)]
    for d in range(1, min(WINDOW, len(at) - 1) + 1):
        a, b = at[:-d], at[d:]
        out.append(np.minimum(a, b) * n + np.maximum(a, b))
    return np.concatenate(out)


def _distinct(codes: _Ints) -> _Ints:
    """Sorted, each once (a sort: numpy's unique hashes, several times slower on millions)."""
    codes = np.sort(codes)
    if len(codes) > 1:
        codes = codes[np.concatenate(([True], codes[1:] != codes[:-1]))]
    return codes


def _pair_set(codes: _Ints, n: int) -> set[tuple[int, int]]:
    return set(zip((codes // n).tolist(), (codes % n).tolist(), strict=True))


@dataclass
class Candidates:
    """The pairs worth scoring, and the crowds that were grouped instead of paired.

    Pairs ``(i, j)``, ``i < j``, are held as sorted, distinct codes ``i * size + j`` (numpy
    arrays: no Python object per pair); :attr:`pairs`, :attr:`shared` and :attr:`mailed` give
    them as sets of index pairs.
    """

    codes: _Ints
    size: int  # how many records: the base of the codes
    groups: list[Group]
    crowds: dict[int, int]  # record index -> id of the same-name crowd it is in (pairs inside are skipped)
    names: _Names
    crowded: frozenset[str] = frozenset()  # evidence keys shared by a crowd: no evidence for or against a pair
    # The pairs that share an evidence key (a crowd's aside), and those of them that share a contact
    # email: every pair of every block of evidence not crowded, so membership is "shares evidence".
    shared_codes: _Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    mailed_codes: _Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def pairs(self) -> set[tuple[int, int]]:
        return _pair_set(self.codes, self.size)

    @property
    def shared(self) -> set[tuple[int, int]]:
        return _pair_set(self.shared_codes, self.size)

    @property
    def mailed(self) -> set[tuple[int, int]]:
        return _pair_set(self.mailed_codes, self.size)

    def without(self, drop: _Ints) -> Candidates:
        """The same, less the pairs whose codes are in ``drop``."""
        return replace(self, codes=np.setdiff1d(self.codes, drop, assume_unique=True))


@collector_paused()
def find_candidates(records: Sequence[CustomerRecord], *, focus: Sequence[bool] | None = None) -> Candidates:
    """Several blocking keys at once, so that one typo or a joined word does not hide a pair.

    Name keys: the normalised name and former names, the sorted tokens, the name without
    spaces, the first and the last five letters of the name without spaces (also without
    leading initials), prefixes of the first two words, and a phonetic key of each
    distinctive word. Evidence keys: website domain, contact emails, phones and addresses;
    a key shared by more than :data:`MAX_GROUP` records (a switchboard, a chain's name) is
    reported as a :class:`Group` rather than paired.

    With ``focus``, blocks without a marked record pair nobody (see :func:`customer_pairs`).
    """
    names = _Names([r.normalized for r in records], raw=[r.name for r in records], aliases=[r.aliases for r in records])
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        for key in chain(_name_keys(rec, names, i), _evidence_keys(rec)):
            block = blocks[key]
            if not block or block[-1] != i:
                block.append(i)

    def by_name(i: int) -> str:
        return names.spaceless[i]

    n = len(records)
    full: list[list[int]] = []  # blocks whose every pair is a candidate
    windows: list[_Ints] = []  # big blocks' neighbours
    shared_blocks: list[list[int]] = []
    mailed_blocks: list[list[int]] = []
    groups: list[Group] = []
    crowds: dict[int, int] = {}
    crowded: set[str] = set()
    for key, members in blocks.items():
        if len(members) < 2:  # most keys: nobody to pair
            continue
        kind, _, value = key.partition(":")
        if len(members) > MAX_GROUP and kind in ("n", "b", *_EVIDENCE_WORDS):
            sample = tuple(records[m].name for m in members[:3])
            paired = kind == "n" and len(members) <= MAX_NAME_PAIRS and not is_only_legal_form(value)
            if kind in ("n", "b"):
                what = f"are named “{value}”" + (" with different numbers or branches" if kind == "b" else "")
                if kind == "n" and not paired:
                    for m in members:
                        crowds.setdefault(m, len(groups))
            else:
                what = f"share the {_EVIDENCE_WORDS[kind]} {value}"
            listing = tuple((records[m].key, records[m].name) for m in members)
            shared = {"n": "name", "b": "branches"}.get(kind) or _EVIDENCE_WORDS[kind]
            groups.append(Group(what, len(members), sample, listing, paired=paired, kind=shared))
            if kind in _EVIDENCE_WORDS:
                crowded.add(key)
            if kind != "n":
                continue  # the names decide; a crowd's key alone pairs nobody
            if paired:  # one real name: every pair, however many (at most MAX_NAME_PAIRS records)
                if focus is None or any(focus[m] for m in members):
                    full.append(members)
                continue
        if focus is not None and not any(focus[m] for m in members):
            continue  # only records already known: none of this run's business
        limit = MAX_BLOCK if kind in _CLASSIC else MAX_SOUND_BLOCK
        if len(members) > limit and kind not in _WINDOWED:
            continue  # a common ending, word or sound: the other keys find what it would
        if len(members) <= limit:  # members are ascending and distinct: every pair is (i < j)
            full.append(members)
            if kind in _EVIDENCE_WORDS:  # (at most MAX_GROUP: bigger ones are crowds)
                (mailed_blocks if kind == "e" else shared_blocks).append(members)
            continue
        windows.append(_window_codes(sorted(members, key=by_name), n))
    groups.sort(key=lambda g: (-g.size, g.what))
    codes = _distinct(np.concatenate([_block_codes(full, n), *windows]))
    mailed_codes = _distinct(_block_codes(mailed_blocks, n))
    shared_codes = _distinct(np.concatenate([_block_codes(shared_blocks, n), mailed_codes]))
    return Candidates(codes, n, groups, crowds, names, frozenset(crowded), shared_codes, mailed_codes)


def candidate_pairs(records: Sequence[CustomerRecord]) -> set[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of the records that share a block and so get scored."""
    return find_candidates(records).pairs


def _name_keys(rec: CustomerRecord, names: _Names, i: int) -> Iterable[str]:
    for normalized in (rec.normalized, *rec.aliases):
        if normalized:
            yield f"n:{normalized}"
    toks = names.tokens[i]
    if not toks:
        return
    base = " ".join(t for t in toks if t not in names.qualifier_words[i])
    if base and base != rec.normalized:
        yield f"b:{base}"
    yield f"s:{''.join(sorted(toks))}"
    spaceless = names.spaceless[i]
    yield f"j:{spaceless}"
    variants = [spaceless]
    if len(toks) >= 3 and len(toks[0]) <= 2:  # leading initials: "ei du pont de nemours"
        variants.append("".join(toks[1:]))
    for v in variants:
        if len(v) > Q:
            yield f"qp:{v[:Q]}"
            yield f"qs:{v[-Q:]}"
    yield from prefix_keys(rec.normalized)
    for t in toks:
        if len(t) >= 4 and names.is_distinctive(t):
            key = phonetic_key(t)
            if len(key) >= 2:
                yield f"ph:{t[0]}{key}"


@collector_paused()
def customer_pairs(
    records: Sequence[CustomerRecord],
    *,
    min_score: float = MIN_SCORE,
    relevant: Callable[[CustomerRecord, CustomerRecord], bool] | None = None,
    candidates: Candidates | None = None,
    focus: Sequence[bool] | None = None,
) -> list[Pair]:
    """Probable duplicate pairs among ``records``, best first.

    ``focus[i]`` (when given) marks the records whose pairs are wanted: a pair of two
    unmarked records is skipped before anything is computed (the importer marks the rows
    of the file; pairs of two customers already in the database are not its business).
    ``relevant(a, b)`` can skip further pairs early.
    """
    if candidates is None:
        candidates = find_candidates(records, focus=focus)
    names = candidates.names
    core, spaceless, aliases = names.core, names.spaceless, names.aliases
    cutoff = min_score - PREFILTER_MARGIN
    # Names sharing a phone, website or address need only reach NAME_FLOOR for it to count.
    floor_cutoff = min(cutoff, NAME_FLOOR - PREFILTER_MARGIN)
    # Records that share nothing and both have a website, phone or address that differs lose
    # DIFFERENT_EVIDENCE per kind: pairs that could not reach min_score even with equal names
    # are skipped before any name test (exact; see _differing_kinds).
    hopeless = np.array([100.0 - DIFFERENT_EVIDENCE * m.bit_count() < min_score for m in range(8)])
    kinds = np.array(_differing_kinds(records, candidates.crowded), dtype=np.int64)
    n = len(records)
    wanted = np.ones(n, dtype=bool) if focus is None else np.fromiter(focus, dtype=bool, count=n)
    crowd_of = np.full(n, -1, dtype=np.int64)  # the same-name crowd each record is in (pairs inside are skipped)
    for m, crowd in candidates.crowds.items():
        crowd_of[m] = crowd
    core_ids: dict[str, int] = {}
    core_id = np.fromiter((core_ids.setdefault(c, len(core_ids)) for c in core), dtype=np.int64, count=n)

    # The candidate pairs worth a look: one of them wanted, not both in one crowd.
    codes = candidates.codes
    first, second = codes // n, codes % n
    keep = (wanted[first] | wanted[second]) & ((crowd_of[first] < 0) | (crowd_of[first] != crowd_of[second]))
    codes, first, second = codes[keep], first[keep], second[keep]
    # Three kinds of candidate pair: sharing a contact email (scored whatever the names), sharing
    # other evidence (names that could reach NAME_FLOOR for it), sharing only name keys. The
    # cheap tests then run in C over all pairs at once (rapidfuzz's cpdist, one call per test);
    # equal names need none. ``todo`` are the pairs to score: (i, j, shares evidence).
    shared, mailed = _among(codes, candidates.shared_codes), _among(codes, candidates.mailed_codes)
    plain = ~shared & ~hopeless[kinds[first] & kinds[second]]
    todo: list[tuple[_Ints, _Ints, bool]] = [(first[mailed], second[mailed], True)]
    tests: list[tuple[_Ints, _Ints, bool, float]] = []
    for group, shares, cut in ((shared & ~mailed, True, floor_cutoff), (plain, False, cutoff)):
        i, j = first[group], second[group]
        if cut <= 0:
            todo.append((i, j, shares))
            continue
        equal = core_id[i] == core_id[j]
        todo.append((i[equal], j[equal], shares))
        tests.append((i[~equal], j[~equal], shares, cut))
    texts = _PairTexts(core, spaceless, aliases)
    todo.extend(_passing_cheap_tests(tests, texts))
    pairs: list[Pair] = []
    for todo_i, todo_j, shares in todo:
        for i, j in zip(todo_i.tolist(), todo_j.tolist(), strict=True):
            a, b = records[i], records[j]
            if relevant is not None and not relevant(a, b):
                continue
            pair = _score_pair(names, i, j, a, b, min_score, shares, candidates.crowded)
            if pair is not None:
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, str(p.a), str(p.b)))
    return pairs


def _differing_kinds(records: Sequence[CustomerRecord], crowded: frozenset[str]) -> list[int]:
    """Per record, a bit for each kind of evidence (website 1, phone 2, address 4) that it has
    and in which no value is a crowd's.

    For two records that share no evidence key, a bit both have is a kind that
    :func:`_compare_evidence` finds different (a crowd's value, neither shared nor different,
    clears the bit, so the count is never more than the differences it finds).
    """
    out = []
    for r in records:
        bits = 0
        if r.website and f"d:{r.website}" not in crowded:
            bits = 1
        if r.phones and not (crowded and any(f"p:{v}" in crowded for v in r.phones)):
            bits |= 2
        if r.addresses and not (crowded and any(f"a:{v}" in crowded for v in r.addresses)):
            bits |= 4
        out.append(bits)
    return out


def _among(codes: _Ints, known: _Ints) -> _Mask:
    """Which of ``codes`` are in the sorted ``known`` (a binary search each, in C)."""
    if not len(known):
        return np.zeros(len(codes), dtype=bool)
    at = np.minimum(np.searchsorted(known, codes), len(known) - 1)
    return known[at] == codes


class _PairTexts:
    """The texts the cheap tests compare, as arrays that numpy indexes by record.

    Each record's *variants* are its current name (the name without bracketed words, and the
    whole name without spaces) and then its former names, one after the other in ``variant``
    from ``first[r]``, ``count[r]`` of them.
    """

    def __init__(self, core: Sequence[str], spaceless: Sequence[str], aliases: Sequence[tuple[str, ...]]) -> None:
        n = len(core)
        texts: list[str] = []
        joined: list[str] = []
        count = np.ones(n, dtype=np.int64)
        for r, (c, sc, former) in enumerate(zip(core, spaceless, aliases, strict=True)):
            texts.append(c)
            joined.append(sc)
            for a in former:
                if a:
                    texts.append(a)
                    joined.append(a.replace(" ", ""))
                    count[r] += 1
        self.variant = np.array(texts, dtype=object)
        self.variant_joined = np.array(joined, dtype=object)
        self.variant_multiword = np.fromiter((" " in t for t in texts), dtype=bool, count=len(texts))
        self.first = np.cumsum(count) - count
        self.count = count
        # Each record's current name is its first variant.
        self.core, self.spaceless = self.variant[self.first], self.variant_joined[self.first]
        self.multiword = self.variant_multiword[self.first]
        self.aliased = count > 1


def _passing_cheap_tests(
    tests: list[tuple[_Ints, _Ints, bool, float]], texts: _PairTexts
) -> Iterable[tuple[_Ints, _Ints, bool]]:
    """Of each group of pairs ``(first, second, shares, cut)``, those whose names could reach
    ``cut`` (above 0), as ``(first, second, shares)``.

    A pair passes when its names' token-set ratio reaches the cut; or, unless both names have
    several words, the partial ratio of the names without spaces ("cyberdine" / "cyberdyne
    trading"); or, for records sharing evidence, the plain ratio without spaces ("ja red" /
    "jared"); or a pairing with a former name does. Each test runs in C over all the pairs
    still failing (``cpdist``; float64, so a score just under the cut stays under it).
    """
    for i, j, shares, cut in tests:
        ok = _passing(fuzz.token_set_ratio, texts.core, i, j, cut)
        yield i[ok], j[ok], shares
        i, j = i[~ok], j[~ok]
        single = ~(texts.multiword[i] & texts.multiword[j])
        ok = np.zeros(len(i), dtype=bool)
        ok[single] = _passing(fuzz.partial_ratio, texts.spaceless, i[single], j[single], cut)
        if shares:
            rest = ~ok
            ok[rest] = _passing(fuzz.ratio, texts.spaceless, i[rest], j[rest], cut)
        rest = ~ok & (texts.aliased[i] | texts.aliased[j])
        if rest.any():
            ok[rest] = _former_names_alike(texts, i[rest], j[rest], cut)
        yield i[ok], j[ok], shares


def _passing(scorer: Callable[..., float], texts_of: NDArray[np.object_], i: _Ints, j: _Ints, cut: float) -> _Mask:
    """Whether each pair of texts ``(texts_of[i], texts_of[j])`` scores at least ``cut``, in C."""
    if not len(i):
        return np.zeros(0, dtype=bool)
    # The cut itself is compared here: rapidfuzz's own cutoff can drop a score a hair above it.
    cutoff = max(0.0, cut - 0.5)
    firsts, seconds = texts_of[i].tolist(), texts_of[j].tolist()
    scores = cpdist(firsts, seconds, scorer=scorer, score_cutoff=cutoff, dtype=np.float64)
    return scores >= cut


def _former_names_alike(texts: _PairTexts, i: _Ints, j: _Ints, cut: float) -> _Mask:
    """Per pair, whether some pairing of a variant of ``i`` with one of ``j`` (but the two
    current names) is equal or passes the token-set or, unless both have several words, the
    partial test: every pairing of every pair in one batch."""
    per_pair = texts.count[i] * texts.count[j] - 1  # pairings, (current, current) aside
    owner = np.repeat(np.arange(len(i)), per_pair)
    # The pairing's place t in its pair's variant grid, 1.. (0 is current x current).
    t = np.arange(len(owner)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair) + 1
    width = texts.count[j][owner]
    x = texts.first[i][owner] + t // width
    y = texts.first[j][owner] + t % width
    ok = texts.variant[x] == texts.variant[y]
    rest = ~ok
    ok[rest] = _passing(fuzz.token_set_ratio, texts.variant, x[rest], y[rest], cut)
    rest = ~ok & ~(texts.variant_multiword[x] & texts.variant_multiword[y])
    ok[rest] = _passing(fuzz.partial_ratio, texts.variant_joined, x[rest], y[rest], cut)
    return np.bincount(owner, weights=ok, minlength=len(i)) > 0


def _score_pair(
    names: _Names,
    i: int,
    j: int,
    a: CustomerRecord,
    b: CustomerRecord,
    min_score: float,
    shares: bool = True,
    crowded: frozenset[str] = frozenset(),
) -> Pair | None:
    """Weigh the evidence for and against one pair the way a person would.

    ``shares=False`` says the two records share no website, email, phone or address (their
    evidence keys are disjoint), so nothing can lift the name's score. ``crowded`` holds the
    evidence keys of crowds (a switchboard): such a value counts neither for nor against.
    """
    qualifier = names.qualifier_conflict(i, j)
    if (
        qualifier is not None
        and 100.0 - qualifier[0] + (len(_EVIDENCE_WORDS) * EVIDENCE_BONUS if shares else 0) < min_score
    ):
        return None  # "East" / "West": nothing could lift it (exact)
    sim, name_reason = names.similarity(i, j)
    if sim < min_score and not shares:
        return None  # exact: with nothing shared the score is the name's, less any penalty
    if sim < NAME_FLOOR and not (a.emails & b.emails):
        return None  # exact: too unlike for shared evidence to count, and no contact email in common
    pro: list[str] = [name_reason] if sim >= NAME_FLOOR else []
    con: list[str] = []
    score = sim
    shared, differ = _compare_evidence(a, b, crowded)
    if shared and sim >= NAME_FLOOR:
        score += EVIDENCE_BONUS * len(shared)
        pro += shared
    elif any(r.startswith("shared contact email") for r in shared):
        score, pro = max(score, REVIEW_SCORE), shared  # a person's email: worth a look, even under another name
        con.append("but the names differ")
    if qualifier is not None:
        penalty, words = qualifier
        score -= penalty
        con.append(words)
    if differ and not shared:
        score -= DIFFERENT_EVIDENCE * len(differ)
        con += differ
    score = max(0.0, min(100.0, score))
    if score < min_score or not pro:
        return None
    verdict = "same" if not con and score >= SAME_SCORE else "review"
    return Pair(a.key, b.key, round(score, 1), (*pro, *con), verdict)


def _compare_evidence(
    a: CustomerRecord, b: CustomerRecord, crowded: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """(shared evidence, evidence that differs), in words; a crowd's value (``crowded``) is neither."""
    shared: list[str] = []
    differ: list[str] = []
    site_a, site_b = a.website, b.website
    if site_a and site_b:
        if site_a != site_b:
            differ.append(f"but different websites ({site_a}, {site_b})")
        elif f"d:{site_a}" not in crowded:
            shared.append(f"same website ({site_a})")
    emails = {e for e in a.emails & b.emails if f"e:{e}" not in crowded}
    if emails:
        shared.append(f"shared contact email ({min(emails)})")
    for label, kind, xs, ys in (("phone", "p", a.phones, b.phones), ("address", "a", a.addresses, b.addresses)):
        if xs and ys:
            both = xs & ys
            common = {v for v in both if f"{kind}:{v}" not in crowded} if crowded else both
            if common:
                shared.append(f"same {label} ({min(common)})")
            elif not both:
                differ.append(f"but different {label}s ({min(xs)}, {min(ys)})")
    return shared, differ


PHONE_NAME_FLOOR = 50.0  # how alike two names must be for a shared phone to count


def _alike_people(a: ContactRecord, b: ContactRecord) -> bool:
    """Names that could be one person's: close enough, or the same last name with first names
    that could be one ("Rob"/"Robert Buyer"; not James and Matthew Taylor, who share an office)."""
    if max(name_score(a.normalized, b.normalized), person_score(a.name, b.name)) >= PHONE_NAME_FLOOR:
        return True
    (first_a, last_a), (first_b, last_b) = person_parts(a.name), person_parts(b.name)
    if not last_a or last_a != last_b or not first_a or not first_b:
        return False
    return first_a.startswith(first_b) or first_b.startswith(first_a)


@collector_paused()
def contact_pairs(records: Sequence[ContactRecord], *, min_score: float = MIN_SCORE) -> list[Pair]:
    """Probable duplicate contacts: same email or phone anywhere, or a close name at the same customer."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        if rec.email:
            blocks[f"e:{rec.email}"].append(i)
        if rec.phone:
            blocks[f"p:{rec.phone}"].append(i)
        toks = rec.normalized.split()
        if toks:
            blocks[f"c:{rec.customer_key}|{toks[0][:3]}"].append(i)
            blocks[f"c:{rec.customer_key}|z{toks[-1][:3]}"].append(i)
            last = person_parts(rec.name)[1]
            if last:  # "Dr. Jane Q. Smith" meets "Smith, Jane"
                blocks[f"c:{rec.customer_key}|l{last[:3]}"].append(i)
    seen: set[tuple[int, int]] = set()
    pairs: list[Pair] = []
    for key, members in blocks.items():
        if key.startswith("c:"):
            todo = _block_pairs(members, sort_key=lambda k: records[k].normalized)
        else:  # all the same by this key: pairing each with the first is enough to merge them all
            todo = ((members[0], m) for m in members[1:])
        for i, j in todo:
            ij = (i, j) if i < j else (j, i)
            if ij in seen:
                continue
            seen.add(ij)
            a, b = records[ij[0]], records[ij[1]]
            reasons: dict[str, float] = {}
            if a.email and a.email == b.email:
                reasons[f"same email ({a.email})"] = SAME_EMAIL + 5
            if a.phone and a.phone == b.phone and _alike_people(a, b):
                # A shared number alone is a switchboard or a front desk, not one person.
                reasons[f"same phone ({a.phone})"] = SAME_PHONE
            if a.customer_key == b.customer_key:
                s = max(name_score(a.normalized, b.normalized), person_score(a.name, b.name))
                if s >= min_score:
                    reasons["same name at the same customer" if s == 100 else f"similar name ({s:.0f}%)"] = s
            score = _combine(reasons)
            if score >= min_score:
                pairs.append(Pair(a.key, b.key, score, tuple(sorted(reasons, key=lambda r: -reasons[r]))))
    pairs.sort(key=lambda p: (-p.score, str(p.a), str(p.b)))
    return pairs


# -- the workspace report ------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerDuplicate:
    duplicate_id: int
    duplicate_name: str
    keeper_id: int
    keeper_name: str
    score: float
    reasons: tuple[str, ...]
    verdict: str = "same"  # or "review": something speaks against it, or the evidence is thin


@dataclass(frozen=True)
class ContactDuplicate:
    first_id: int  # the duplicate (merged into the second)
    first: str  # "Jane Doe <jane@acme.com> at Acme"
    second_id: int  # the proposed keeper: more activities, else the older record
    second: str
    score: float
    reasons: tuple[str, ...]


@dataclass
class DuplicateReport:
    customers: list[CustomerDuplicate]
    contacts: list[ContactDuplicate]
    customers_checked: int
    contacts_checked: int
    groups: list[Group] = field(default_factory=list)  # crowds sharing one phone, website or name


def _weights(session: Session, workspace_id: int) -> dict[int, int]:
    weights: dict[int, int] = defaultdict(int)
    for model in (Contact, Deal, Activity):
        rows = session.execute(
            select(model.customer_id, func.count())
            .where(model.workspace_id == workspace_id, model.deleted_at.is_(None))
            .group_by(model.customer_id)
        )
        for cid, n in rows:
            weights[cid] += n
    return weights


def _contact_weights(session: Session, workspace_id: int) -> dict[int, int]:
    """Live activities per contact."""
    rows = session.execute(
        select(Activity.contact_id, func.count())
        .where(Activity.workspace_id == workspace_id, Activity.deleted_at.is_(None), Activity.contact_id.is_not(None))
        .group_by(Activity.contact_id)
    )
    return {cid: n for cid, n in rows if cid is not None}


def contact_keeper(a: int, b: int, weights: dict[int, int]) -> tuple[int, int]:
    """(duplicate, keeper) of two contacts: the one with more activities is kept, else the older."""
    wa, wb = weights.get(a, 0), weights.get(b, 0)
    keep_a = wa > wb or (wa == wb and a < b)
    return (b, a) if keep_a else (a, b)


_STREET_NUMBER = re.compile(r"\b(\d+[a-z]?)\b")


def address_key(postal_code: str | None, street: str | None) -> str | None:
    """ "<postal code>|<street number>" ("94105|12" for "12 Main St" or "Hauptstr. 12"), or None
    when either is missing: a place two spellings of one company share."""
    postal = "".join((postal_code or "").split()).upper()
    number = _STREET_NUMBER.search((street or "").lower())
    return f"{postal}|{number.group(1)}" if postal and number else None


def load_customer_records(session: Session, workspace_id: int, *, with_weights: bool = True) -> list[CustomerRecord]:
    """Every live customer of the workspace, with former names and contact emails and phones."""
    records: dict[int, CustomerRecord] = {}
    rows = session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.normalized_name,
            Customer.domain,
            Customer.phone,
            Customer.billing_postal_code,
            Customer.billing_street,
            Customer.shipping_postal_code,
            Customer.shipping_street,
        )
        .where(
            Customer.workspace_id == workspace_id,
            Customer.deleted_at.is_(None),
            Customer.merged_into_id.is_(None),
        )
        .order_by(Customer.id)
    )
    for cid, name, normalized, domain, phone, billing_postal, billing_street, shipping_postal, shipping_street in rows:
        rec = records[cid] = CustomerRecord(cid, name, normalized, domain)
        if phone:
            rec.phones.add(phone)
        for postal, street in ((billing_postal, billing_street), (shipping_postal, shipping_street)):
            key = address_key(postal, street)
            if key:
                rec.addresses.add(key)
    aliases: dict[int, list[str]] = defaultdict(list)
    for cid, normalized in session.execute(
        select(CustomerAlias.customer_id, CustomerAlias.normalized).where(CustomerAlias.workspace_id == workspace_id)
    ):
        aliases[cid].append(normalized)
    for cid, values in aliases.items():
        if cid in records:
            records[cid].aliases = tuple(values)
    for cid, email, phone in session.execute(
        select(Contact.customer_id, Contact.email, Contact.phone).where(
            Contact.workspace_id == workspace_id, Contact.deleted_at.is_(None)
        )
    ):
        holder = records.get(cid)
        if holder is None:
            continue
        if email:
            holder.emails.add(email)
        if phone:
            holder.phones.add(phone)
    if with_weights:
        for cid, weight in _weights(session, workspace_id).items():
            if cid in records:
                records[cid].weight = weight
    return list(records.values())


def keeper_of(a: CustomerRecord, b: CustomerRecord) -> tuple[CustomerRecord, CustomerRecord]:
    """(duplicate, keeper): keep the record with more linked data, else the older one."""
    if _keep_rank(b) > _keep_rank(a):
        return a, b
    return b, a


def _keep_rank(rec: CustomerRecord) -> tuple[int, int]:
    """The record to keep ranks highest: more linked data, else the older one."""
    return rec.weight, -_order(rec)


def _order(rec: CustomerRecord) -> int:
    return rec.key if isinstance(rec.key, int) else 1 << 62


def _row_id(key: Hashable) -> int:
    """A record loaded from the database is keyed by its row id."""
    if not isinstance(key, int):
        raise TypeError(f"expected a row id, got {key!r}")
    return key


def report_pairs(
    records: Sequence[CustomerRecord], *, min_score: float = MIN_SCORE, candidates: Candidates | None = None
) -> list[Pair]:
    """The pairs a duplicate report lists: :func:`customer_pairs`, except that the records of one
    name's group (see :data:`MAX_NAME_PAIRS`) are each paired with the group's keeper only (the
    busiest, else the oldest), not with every other: merging those merges them all."""
    if candidates is None:
        candidates = find_candidates(records)
    paired = [g for g in candidates.groups if g.paired]
    if not paired:
        return customer_pairs(records, min_score=min_score, candidates=candidates)
    index = {r.key: i for i, r in enumerate(records)}
    others: list[list[int]] = []
    for g in paired:
        members = sorted(index[k] for k, _ in g.members)
        keeper = max(members, key=lambda i: _keep_rank(records[i]))
        others.append([m for m in members if m != keeper])
    drop = _distinct(_block_codes(others, candidates.size))
    return customer_pairs(records, min_score=min_score, candidates=candidates.without(drop))


def find_duplicates(sf: sessionmaker[Session], workspace_id: int, *, min_score: float = MIN_SCORE) -> DuplicateReport:
    """Probable duplicate customers (with a proposed keeper) and contacts in a workspace."""
    with sf() as session:
        customers = load_customer_records(session, workspace_id)
        contacts = [
            ContactRecord(cid, name, normalized, customer_id, email, phone)
            for cid, name, normalized, customer_id, email, phone in session.execute(
                select(
                    Contact.id, Contact.name, Contact.normalized_name, Contact.customer_id, Contact.email, Contact.phone
                )
                .join(Customer, Customer.id == Contact.customer_id)
                .where(
                    Contact.workspace_id == workspace_id,
                    Contact.deleted_at.is_(None),
                    Customer.deleted_at.is_(None),
                )
                .order_by(Contact.id)
            )
        ]
        contact_weights = _contact_weights(session, workspace_id)
    by_id = {c.key: c for c in customers}
    customer_dups = []
    candidates = find_candidates(customers)
    for pair in report_pairs(customers, min_score=min_score, candidates=candidates):
        dup, keeper = keeper_of(by_id[pair.a], by_id[pair.b])
        customer_dups.append(
            CustomerDuplicate(
                _row_id(dup.key), dup.name, _row_id(keeper.key), keeper.name, pair.score, pair.reasons, pair.verdict
            )
        )
    contact_by_id = {c.key: c for c in contacts}

    def describe(c: ContactRecord) -> str:
        parts = [c.name]
        if c.email:
            parts.append(f"<{c.email}>")
        company = by_id.get(c.customer_key)
        if company is not None:
            parts.append(f"at {company.name}")
        return " ".join(parts)

    contact_dups = []
    for p in contact_pairs(contacts, min_score=min_score):
        dup_id, keeper_id = contact_keeper(_row_id(p.a), _row_id(p.b), contact_weights)
        contact_dups.append(
            ContactDuplicate(
                dup_id,
                describe(contact_by_id[dup_id]),
                keeper_id,
                describe(contact_by_id[keeper_id]),
                p.score,
                p.reasons,
            )
        )
    return DuplicateReport(customer_dups, contact_dups, len(customers), len(contacts), candidates.groups)


REPORT_COLUMNS = (
    "kind",
    "duplicate_id",
    "duplicate",
    "keeper_id",
    "keeper",
    "score",
    "verdict",
    "reasons",
    "group",
)


def report_rows(report: DuplicateReport) -> Iterable[tuple[str, ...]]:
    """Every finding of a report as table rows (:data:`REPORT_COLUMNS`), nothing cut short.

    One row per customer pair ("customer", the duplicate and the proposed keeper), per
    contact pair ("contact") and per member of a group ("customer group": the group's
    description in ``group``, no keeper), so a spreadsheet can sort and filter all of it.
    """
    customers = (
        ("customer", d.duplicate_id, d.duplicate_name, d.keeper_id, d.keeper_name, d.score, d.verdict, d.reasons)
        for d in report.customers
    )
    contacts = (
        ("contact", c.first_id, c.first, c.second_id, c.second, c.score, "", c.reasons) for c in report.contacts
    )
    for kind, dup_id, dup, keeper_id, keeper, score, verdict, reasons in chain(customers, contacts):
        yield kind, str(dup_id), dup, str(keeper_id), keeper, f"{score:.1f}", verdict, "; ".join(reasons), ""
    for g in report.groups:
        label = f"{g.size:,} customers {g.what}"
        for key, name in g.members:
            yield ("customer group", str(key), name, "", "", "", "", "", label)
