"""In-memory fuzzy customer search for one workspace (pure: no database, no Slack).

Used by ``/customer <query>``, the customer pickers in modals and the duplicate
guard. Build one :class:`CustomerIndex` per workspace from the database at
start-up, keep it current with :meth:`CustomerIndex.add` / :meth:`CustomerIndex.remove`
when customers change, and ask it with :meth:`CustomerIndex.search`.

How a search works
------------------
1. **Exact keys.** Emails in the query are looked up in an email table and, unless
   they are free-mail addresses (gmail.com, ...), their domain in a domain table;
   URLs and bare domains (``acme.co.uk``) go to the domain table too.
2. **Candidates from tokens.** The query is normalised like a name
   (:func:`crm.normalize.name_tokens`). Each query token is expanded against the
   vocabulary of all indexed tokens: the exact token, vocabulary tokens it is a
   prefix of (typeahead), tokens within one or two edits (typos, found through a
   character-trigram index over the vocabulary and checked with an
   optimal-string-alignment distance), and split/joined forms ("salesforce" /
   "sales force"). Postings of the expanded tokens give candidate customers,
   weighted by how rare each token is. Very common tokens only re-rank
   candidates found by rarer ones, and every step is capped, so the cost does
   not grow with the number of customers the way a full scan does.
3. **Scoring.** The best few hundred candidates are scored with rapidfuzz against
   their normalised name, aliases, contact names and domain (see
   :func:`_text_score`), and each customer keeps its best match.

Scores run 0..100; **100 is reserved for exact hits**: equal normalised name or
alias, or an exact email or website domain. See :func:`classify` for how scores
become "winner" / "ambiguous" / "none".

Memory
------
Everything is kept in flat structures: each customer is one UTF-8 record in a
shared ``bytearray`` (offsets in ``array('q')``); token postings are
``array('i')`` of internal slot numbers (a plain ``int`` while a token has one
posting); emails, domains and customer ids live in open-addressing hash tables
made of two arrays. A million customers take a few hundred MB (see
``bench/bench_lookup.py``). Removing or replacing a customer only marks its slot
dead; the index rebuilds itself when more than half the slots are dead.

Thread-safety
-------------
One :class:`threading.Lock` per index guards every read and write, so searches
from many threads and a writer calling ``add``/``remove`` never see a half-made
entry. Searches are therefore serialised; they are CPU-bound Python holding the
GIL anyway, so a readers-writer lock would not make them faster. ``add`` holds
the lock for microseconds; the occasional self-rebuild holds it for as long as
re-indexing takes (about a second per 100k live customers).
"""

from __future__ import annotations

import heapq
import math
import threading
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from crm.normalize import (
    _is_cjk,
    acronym,
    extract_domain,
    extract_emails,
    is_free_email_domain,
    name_tokens,
    registrable_domain,
    strip_control,
)

__all__ = [
    "AMBIGUOUS_MIN_SCORE",
    "WINNER_MARGIN",
    "WINNER_MIN_SCORE",
    "CustomerIndex",
    "Match",
    "classify",
]

# --- classify() thresholds -------------------------------------------------
#: A top match scoring at least this, and WINNER_MARGIN ahead of the next, is a winner.
WINNER_MIN_SCORE = 90.0
#: How far ahead of the second match a non-exact winner must be.
WINNER_MARGIN = 8.0
#: Below this the best match is not worth showing as a guess: "none".
AMBIGUOUS_MIN_SCORE = 70.0

# --- limits ----------------------------------------------------------------
MAX_QUERY_CHARS = 256  # longer queries are truncated (a name is never this long)
MAX_QUERY_TOKENS = 8
MAX_TEXT_CHARS = 300  # stored texts are truncated to this
_PREFIX_MAX = 40  # vocabulary tokens a prefix may expand to
_FUZZY_MAX = 25  # vocabulary tokens a typo may expand to
_CANDIDATES = 200  # customers scored with rapidfuzz per query
_POSTING_BUDGET = 150_000  # posting entries read per query token, at most
_MIN_SCORE = 50.0  # matches below this are not returned

# Weight of each kind of text relative to the customer's name.
_KIND_FACTOR = {"name": 1.0, "alias": 0.99, "contact": 0.94, "domain": 0.95}
_KIND_CODE = {"name": "n", "alias": "a", "contact": "c", "domain": "d", "email": "e"}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}
_KIND_RANK = {"email": 0, "name": 1, "domain": 2, "alias": 3, "contact": 4}  # tie-break on equal scores
_SEP_ITEM = "\x1f"
_SEP_NORM = "\x1e"

_Posting = int | array


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
    if top < AMBIGUOUS_MIN_SCORE:
        return "none"
    return "ambiguous"


# ---------------------------------------------------------------------------
# Compact building blocks
# ---------------------------------------------------------------------------


class _HashMultiMap:
    """Open-addressing multimap from a 64-bit hash to an int32 value, in two arrays.

    Keys are hashes, so callers verify hits against the real data. There is no
    delete: stale values are filtered by the caller and dropped on rebuild.
    """

    __slots__ = ("_keys", "_mask", "_used", "_vals")

    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(4, (capacity * 2 - 1).bit_length())
        self._keys = array("q", bytes(8 * size))
        self._vals = array("i", bytes(4 * size))
        self._mask = size - 1
        self._used = 0

    @staticmethod
    def _fix(h: int) -> int:
        return h or 1  # 0 marks an empty cell

    def add(self, h: int, value: int) -> None:
        if (self._used + 1) * 10 >= (self._mask + 1) * 7:
            self._grow()
        h = self._fix(h)
        keys, mask = self._keys, self._mask
        i = h & mask
        while keys[i]:
            i = (i + 1) & mask
        keys[i] = h
        self._vals[i] = value
        self._used += 1

    def get(self, h: int) -> list[int]:
        h = self._fix(h)
        keys, vals, mask = self._keys, self._vals, self._mask
        out = []
        i = h & mask
        while k := keys[i]:
            if k == h:
                out.append(vals[i])
            i = (i + 1) & mask
        return out

    def _grow(self) -> None:
        old_keys, old_vals = self._keys, self._vals
        size = (self._mask + 1) * 2
        self._keys = array("q", bytes(8 * size))
        self._vals = array("i", bytes(4 * size))
        self._mask = size - 1
        keys, vals, mask = self._keys, self._vals, self._mask
        for k, v in zip(old_keys, old_vals, strict=True):
            if k:
                i = k & mask
                while keys[i]:
                    i = (i + 1) & mask
                keys[i] = k
                vals[i] = v

    def nbytes(self) -> int:
        return self._keys.itemsize * len(self._keys) + self._vals.itemsize * len(self._vals)


def _posting_len(p: _Posting) -> int:
    return 1 if isinstance(p, int) else len(p)


def _posting_iter(p: _Posting) -> Iterable[int]:
    return (p,) if isinstance(p, int) else p


def _posting_contains(p: _Posting, slot: int) -> bool:
    if isinstance(p, int):
        return p == slot
    i = bisect_left(p, slot)
    return i < len(p) and p[i] == slot


def _grams(token: str) -> list[str]:
    padded = f"^{token}$"
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def _cjk_bigrams(token: str) -> list[str]:
    """Character bigrams of a token with CJK characters (those scripts have no spaces)."""
    if len(token) < 3 or not any(_is_cjk(c) for c in token):
        return []
    return [token[i : i + 2] for i in range(len(token) - 1)]


def _name_index_tokens(norm: str) -> set[str]:
    toks = norm.split()
    out = set(toks)
    for t in toks:
        out.update(_cjk_bigrams(t))
    acr = acronym(toks)
    if len(acr) >= 2:
        out.add(acr)
        full = "".join(t[0] for t in toks)
        if full != acr:
            out.add(full)
    return out


def _prefix_score(q: str, t: str) -> float:
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


def _edit_score(qs: list[str], ts: list[str]) -> float:
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


def _text_score(q: str, t: str) -> float:
    """Similarity 0..100 of a normalised query and a normalised name; 100 only if equal.

    The maximum of: plain ratio (typos), token-sort ratio x0.97 (word order),
    token-set ratio scaled by how much of the text the shared words cover (a
    missing word), a prefix score for typeahead, a per-word typo score
    (:func:`_edit_score`), and 93 when the query is the name's acronym. Capped at 99 so that only equality scores 100.
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
        _prefix_score(q, t),
        _edit_score(qs, ts),
    )
    if " " not in q and 2 <= len(q) <= 6:
        toks = t.split()
        if q == acronym(toks) or (len(toks) > 1 and q == "".join(w[0] for w in toks)):
            best = max(best, 93.0)
    return min(best, 99.0)


# ---------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------


class CustomerIndex:
    """Fuzzy search over one workspace's customers; see the module docstring.

    Customer ids must fit in a signed 64-bit integer. Never share one index
    between workspaces: create one per workspace.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._slot_cid = array("q")
        self._slot_alive = bytearray()
        self._slot_ntok = array("B")
        self._off = array("q", [0])
        self._blob = bytearray()
        self._cid_map = _HashMultiMap()
        self._email_map = _HashMultiMap()
        self._domain_map = _HashMultiMap()
        self._tokens: dict[str, _Posting] = {}
        self._vocab: list[str] = []
        self._grams: dict[str, array] = {}
        self._live = 0

    # -- public API ---------------------------------------------------------

    def add(
        self,
        customer_id: int,
        *,
        name: str,
        aliases: Iterable[str] = (),
        domains: Iterable[str] = (),
        contact_names: Iterable[str] = (),
        contact_emails: Iterable[str] = (),
    ) -> None:
        """Index a customer, replacing any previous entry for the same id.

        Texts are cleaned of control characters and truncated to MAX_TEXT_CHARS.
        Domains may be given as URLs or emails; invalid domains and emails are skipped.
        """
        items = self._make_items(name, aliases, domains, contact_names, contact_emails)
        record = _SEP_ITEM.join(items).encode("utf-8", "surrogatepass")
        with self._lock:
            self._remove_locked(customer_id)
            slot = len(self._slot_cid)
            self._slot_cid.append(customer_id)
            self._slot_alive.append(1)
            self._blob += record
            self._off.append(len(self._blob))
            self._cid_map.add(hash(customer_id), slot)
            self._index_slot(slot, items)
            self._live += 1

    def remove(self, customer_id: int) -> None:
        """Forget a customer (no error if it is not indexed)."""
        with self._lock:
            self._remove_locked(customer_id)
            if len(self._slot_cid) > 1000 and self._live * 2 < len(self._slot_cid):
                self._rebuild_locked()

    def search(self, query: str, limit: int = 10) -> list[Match]:
        """Best match per customer, best first, at most ``limit``; never raises on odd input."""
        if not isinstance(query, str) or limit <= 0:
            return []
        q = strip_control(query[:MAX_QUERY_CHARS]).strip()
        if not q:
            return []
        with self._lock:
            if not self._live:
                return []
            found = self._search_locked(q)
        ranked = sorted(found.values(), key=lambda m: (-m.score, _KIND_RANK[m.kind], len(m.matched), m.customer_id))
        return ranked[:limit]

    def __len__(self) -> int:
        return self._live

    def __contains__(self, customer_id: object) -> bool:
        if not isinstance(customer_id, int):
            return False
        with self._lock:
            return self._slot_of(customer_id) is not None

    def memory_bytes(self) -> int:
        """Rough size of the arrays and buffers (not counting dict/str overhead)."""
        total = len(self._blob) + self._off.itemsize * len(self._off)
        total += self._slot_cid.itemsize * len(self._slot_cid) + len(self._slot_alive) + len(self._slot_ntok)
        total += self._cid_map.nbytes() + self._email_map.nbytes() + self._domain_map.nbytes()
        total += sum(4 * len(p) for p in self._tokens.values() if not isinstance(p, int))
        total += sum(4 * len(p) for p in self._grams.values())
        return total

    # -- writing ------------------------------------------------------------

    @staticmethod
    def _clean(text: str) -> str:
        return " ".join(strip_control(str(text))[:MAX_TEXT_CHARS].split())

    def _make_items(
        self,
        name: str,
        aliases: Iterable[str],
        domains: Iterable[str],
        contact_names: Iterable[str],
        contact_emails: Iterable[str],
    ) -> list[str]:
        items: list[str] = []
        seen: set[str] = set()

        def put(code: str, orig: str, norm: str) -> None:
            key = code + norm
            if norm and key not in seen:
                seen.add(key)
                items.append(f"{code}{orig}{_SEP_NORM}{norm}")

        clean = self._clean(name)
        put("n", clean, " ".join(name_tokens(clean)) or clean.casefold())
        for alias in aliases:
            clean = self._clean(alias)
            put("a", clean, " ".join(name_tokens(clean)))
        for d in domains:
            clean = self._clean(d)
            dom = extract_domain(clean)
            if dom:
                put("d", clean, dom)
        for person in contact_names:
            clean = self._clean(person)
            put("c", clean, " ".join(name_tokens(clean)))
        for e in contact_emails:
            clean = self._clean(e)
            for email in extract_emails(clean)[:1]:
                put("e", clean, email)
        return items

    def _index_slot(self, slot: int, items: list[str]) -> None:
        tokens: set[str] = set()
        ntok = 0
        for item in items:
            code = item[0]
            norm = item.partition(_SEP_NORM)[2]
            if code in "na":
                tokens |= _name_index_tokens(norm)
                if code == "n":
                    ntok = min(255, len(norm.split()))
            elif code == "c":
                tokens.update(norm.split())
            elif code == "d":
                self._domain_map.add(hash(norm), slot)
                reg = registrable_domain(norm)
                if reg != norm:
                    self._domain_map.add(hash(reg), slot)
                label = reg.split(".")[0]
                if len(label) <= 6:
                    tokens.add(label)
            elif code == "e":
                self._email_map.add(hash(norm), slot)
        self._slot_ntok.append(ntok)
        postings = self._tokens
        for tok in tokens:
            p = postings.get(tok)
            if p is None:
                postings[tok] = slot
                self._add_vocab(tok)
            elif isinstance(p, int):
                postings[tok] = array("i", (p, slot))
            else:
                p.append(slot)

    def _add_vocab(self, tok: str) -> None:
        vid = len(self._vocab)
        self._vocab.append(tok)
        grams = self._grams
        for g in set(_grams(tok)):
            arr = grams.get(g)
            if arr is None:
                grams[g] = array("i", (vid,))
            else:
                arr.append(vid)

    def _slot_of(self, customer_id: int) -> int | None:
        for slot in self._cid_map.get(hash(customer_id)):
            if self._slot_alive[slot] and self._slot_cid[slot] == customer_id:
                return slot
        return None

    def _remove_locked(self, customer_id: int) -> None:
        slot = self._slot_of(customer_id)
        if slot is not None:
            self._slot_alive[slot] = 0
            self._live -= 1

    def _rebuild_locked(self) -> None:
        """Re-index live customers only, dropping dead slots and unused tokens."""
        old = [(self._slot_cid[s], self._items(s)) for s in range(len(self._slot_cid)) if self._slot_alive[s]]
        self._reset()
        for cid, items in old:
            slot = len(self._slot_cid)
            self._slot_cid.append(cid)
            self._slot_alive.append(1)
            self._blob += _SEP_ITEM.join(items).encode("utf-8", "surrogatepass")
            self._off.append(len(self._blob))
            self._cid_map.add(hash(cid), slot)
            self._index_slot(slot, items)
            self._live += 1

    # -- reading ------------------------------------------------------------

    def _items(self, slot: int) -> list[str]:
        raw = self._blob[self._off[slot] : self._off[slot + 1]].decode("utf-8", "surrogatepass")
        return raw.split(_SEP_ITEM)

    def _iter_items(self, slot: int) -> Iterator[tuple[str, str, str]]:
        for item in self._items(slot):
            orig, _, norm = item[1:].partition(_SEP_NORM)
            yield _CODE_KIND[item[0]], orig, norm

    def _search_locked(self, q: str) -> dict[int, Match]:
        found: dict[int, Match] = {}

        def offer(slot: int, score: float, matched: str, kind: str) -> None:
            cid = self._slot_cid[slot]
            cur = found.get(cid)
            if cur is None or score > cur.score:
                found[cid] = Match(cid, round(score, 1), matched, kind)

        name_query = q
        name_cap = 100.0  # lowered when the name part is only guessed from a domain
        # 1. exact emails and domains
        for email in extract_emails(q)[:3]:
            for slot in self._email_map.get(hash(email)):
                if self._slot_alive[slot]:
                    for kind, orig, norm in self._iter_items(slot):
                        if kind == "email" and norm == email:
                            offer(slot, 100.0, orig, kind)
            name_query = name_query.replace(email, " ")
            domain = email.rpartition("@")[2]
            if not is_free_email_domain(domain):
                self._offer_domain(domain, offer, exact_score=97.0)
                name_query += " " + registrable_domain(domain).split(".")[0]
                name_cap = 90.0
        if "@" not in q:
            domain = extract_domain(q)
            if domain and not is_free_email_domain(domain):
                self._offer_domain(domain, offer, exact_score=100.0)
                if " " not in q.strip():  # the whole query is a domain or URL: search its name part too
                    name_query = registrable_domain(domain).split(".")[0]
                    name_cap = 90.0  # "ren.co.uk" must rank the owner of ren.co.uk above a "Ren Ltd"

        # 2. names, aliases, contacts
        toks = name_tokens(name_query)[:MAX_QUERY_TOKENS]
        if toks:
            qn = " ".join(toks)
            for slot in self._candidates(toks):
                best: tuple[float, str, str] | None = None
                for kind, orig, norm in self._iter_items(slot):
                    if kind == "email":
                        continue
                    if kind == "domain":
                        if " " in qn:
                            continue
                        s = fuzz.ratio(qn, registrable_domain(norm).split(".")[0]) * _KIND_FACTOR[kind]
                    else:
                        s = _text_score(qn, norm)
                        if s < 100.0:
                            s *= _KIND_FACTOR[kind]
                        elif kind == "contact":
                            s = 96.0  # a person's exact name is strong, but not an exact company hit
                    if best is None or s > best[0]:
                        best = (s, orig, kind)
                if best is not None and best[0] >= _MIN_SCORE:
                    offer(slot, min(best[0], name_cap), best[1], best[2])
        return found

    def _offer_domain(self, domain: str, offer, exact_score: float) -> None:
        reg = registrable_domain(domain)
        seen: set[int] = set()
        for key in {domain, reg}:
            for slot in self._domain_map.get(hash(key)):
                if slot in seen or not self._slot_alive[slot]:
                    continue
                seen.add(slot)
                for kind, orig, norm in self._iter_items(slot):
                    if kind != "domain":
                        continue
                    if norm == domain:
                        offer(slot, exact_score, orig, kind)
                    elif registrable_domain(norm) == reg:
                        offer(slot, min(exact_score, 97.0) - 1.0, orig, kind)

    # -- candidate generation -----------------------------------------------

    def _expand(self, qt: str, next_qt: str | None, prefix: bool) -> dict[str, float]:
        """Vocabulary tokens standing for one query token, with a similarity 0..1."""
        tokens = self._tokens
        out: dict[str, float] = {}
        if qt in tokens:
            out[qt] = 1.0
        for bigram in _cjk_bigrams(qt):
            if bigram in tokens:
                out.setdefault(bigram, 0.9)
        if next_qt is not None and qt + next_qt in tokens:
            out[qt + next_qt] = 1.0  # "sales force" -> "salesforce"
        if qt not in tokens and len(qt) >= 6:  # "acmeanalytics" -> "acme" + "analytics"
            for i in range(3, len(qt) - 2):
                if qt[:i] in tokens and qt[i:] in tokens:
                    out.setdefault(qt[:i], 0.9)
                    out.setdefault(qt[i:], 0.9)
                    break
        grams = self._grams
        if prefix and len(qt) >= 2:
            qgrams = _grams(qt)[:-1]  # no end anchor
            postings = [grams.get(g) for g in qgrams]
            if all(p is not None for p in postings):
                rarest = min(postings, key=len)
                vocab = self._vocab
                hits = [vocab[v] for v in rarest if vocab[v].startswith(qt) and vocab[v] != qt]
                if len(hits) > _PREFIX_MAX:  # the most used completions first
                    hits = heapq.nlargest(_PREFIX_MAX, hits, key=lambda t: (_posting_len(tokens[t]), t))
                for t in hits:
                    out.setdefault(t, 0.85 + 0.1 * len(qt) / len(t))
        if len(qt) >= 4 and not any(_is_cjk(c) for c in qt):
            k = 1 if len(qt) < 8 else 2
            qgrams = set(_grams(qt))
            counts: Counter[int] = Counter()
            cap = max(5000, len(self._vocab) // 20)
            need = len(qgrams) - 4 * k  # an edit breaks up to 3 trigrams, a transposition 4
            for g in qgrams:
                p = grams.get(g)
                if p is None:
                    continue
                if len(p) > cap:
                    need -= 1  # too common to be worth reading
                    continue
                counts.update(p)
            need = max(1, need)
            vocab = self._vocab
            lo, hi = len(qt) - k, len(qt) + k
            pool = [vocab[v] for v, c in counts.items() if c >= need and lo <= len(vocab[v]) <= hi]
            for t, dist, _ in process.extract(qt, pool, scorer=OSA.distance, score_cutoff=k, limit=_FUZZY_MAX):
                if t != qt:
                    out.setdefault(t, 0.8 if dist == 1 else 0.65)
        return out

    def _candidates(self, toks: list[str]) -> list[int]:
        """Slots worth scoring: customers sharing (expanded) tokens with the query, rarest first."""
        n_slots = max(1, len(self._slot_cid))
        tokens = self._tokens
        per_token = []
        for i, qt in enumerate(toks):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            exp = self._expand(qt, nxt, prefix=True)
            if not exp:
                continue
            total = sum(_posting_len(tokens[t]) for t in exp)
            per_token.append((total, exp))
        if not per_token:
            return []
        per_token.sort(key=lambda x: x[0])
        acc: dict[int, float] = {}
        for rank, (total, exp) in enumerate(per_token):
            weight = math.log(1.0 + n_slots / max(1, total))
            if rank == 0 or total <= _POSTING_BUDGET // 4:
                # gather: every posting gives candidates (within the budget)
                best: dict[int, float] = {}
                budget = _POSTING_BUDGET
                for tok, sim in sorted(exp.items(), key=lambda x: -x[1]):
                    w = weight * sim
                    for slot in _posting_iter(tokens[tok]):
                        if best.get(slot, 0.0) < w:
                            best[slot] = w
                    budget -= _posting_len(tokens[tok])
                    if budget <= 0:
                        break
                for slot, w in best.items():
                    acc[slot] = acc.get(slot, 0.0) + w
            else:
                # a common token: only re-rank candidates the rarer tokens found
                hit: dict[int, float] = {}
                for tok, sim in exp.items():
                    p = tokens[tok]
                    if _posting_len(p) <= 4 * len(acc):
                        for slot in _posting_iter(p):
                            if slot in acc and hit.get(slot, 0.0) < sim:
                                hit[slot] = sim
                    else:
                        for slot in acc:
                            if hit.get(slot, 0.0) < sim and _posting_contains(p, slot):
                                hit[slot] = sim
                for slot, sim in hit.items():
                    acc[slot] += weight * sim
        alive, ntok = self._slot_alive, self._slot_ntok
        # fewer extra words first among equals: "Acme" before "Acme Analytics Group"
        ranked = heapq.nlargest(_CANDIDATES, (s for s in acc if alive[s]), key=lambda s: acc[s] - 0.05 * ntok[s])
        return ranked
