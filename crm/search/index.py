"""The in-memory index of one workspace's customers: writing entries and answering searches
(see :mod:`crm.search` for how a search works, its memory layout and thread-safety)."""

from __future__ import annotations

import heapq
import math
import operator
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import compress, repeat

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from crm.normalize import (
    _is_cjk,
    extract_domain,
    extract_emails,
    is_free_email_domain,
    name_tokens,
    registrable_domain,
    strip_control,
)
from crm.search.scoring import KIND_FACTOR, MIN_SCORE, Match, sounds_alike, text_scores
from crm.search.structures import (
    HashMultiMap,
    Posting,
    cjk_bigrams,
    name_index_tokens,
    posting_contains,
    posting_iter,
    posting_len,
    trigrams,
)

# --- limits ----------------------------------------------------------------
MAX_QUERY_CHARS = 256  # longer queries are truncated (a name is never this long)
MAX_QUERY_TOKENS = 8
MAX_TEXT_CHARS = 300  # stored texts are truncated to this
_PREFIX_MAX = 40  # vocabulary tokens a prefix may expand to
_FUZZY_MAX = 25  # vocabulary tokens a typo may expand to
_CANDIDATES = 200  # customers scored with rapidfuzz per query
_POSTING_BUDGET = 150_000  # posting entries read per query token, at most

_KIND_CODE = {"name": "n", "alias": "a", "contact": "c", "domain": "d", "email": "e"}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}
_KIND_RANK = {"email": 0, "name": 1, "domain": 2, "alias": 3, "contact": 4}  # tie-break on equal scores
_SEP_ITEM = "\x1f"
_SEP_NORM = "\x1e"


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
        self._cid_map = HashMultiMap()
        self._email_map = HashMultiMap()
        self._domain_map = HashMultiMap()
        self._tokens: dict[str, Posting] = {}
        self._vocab: list[str] = []
        self._grams: dict[str, array] = {}
        self._live = 0
        self._max_ntok = 0  # the most words of any slot (bounds the few-words tie-break)

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
                tokens |= name_index_tokens(norm)
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
        self._max_ntok = max(self._max_ntok, ntok)
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
        for g in set(trigrams(tok)):
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
            site = extract_domain(q)
            if site and not is_free_email_domain(site):
                self._offer_domain(site, offer, exact_score=100.0)
                if " " not in q.strip():  # the whole query is a domain or URL: search its name part too
                    name_query = registrable_domain(site).split(".")[0]
                    name_cap = 90.0  # "ren.co.uk" must rank the owner of ren.co.uk above a "Ren Ltd"

        # 2. names, aliases, contacts
        toks = name_tokens(name_query)[:MAX_QUERY_TOKENS]
        if toks:
            qn = " ".join(toks)
            # Every candidate's texts first, then one batch through rapidfuzz's C loops.
            texts: list[tuple[int, str, str, str]] = []  # (slot, kind, orig, the text to score)
            for slot in self._candidates(toks):
                for kind, orig, norm in self._iter_items(slot):
                    if kind == "email" or (kind == "domain" and " " in qn):
                        continue
                    texts.append(
                        (slot, kind, orig, registrable_domain(norm).split(".")[0] if kind == "domain" else norm)
                    )
            names = [t[3] for t in texts if t[1] != "domain"]
            name_scores = iter(text_scores(qn, names))
            best: dict[int, tuple[float, str, str]] = {}
            for slot, kind, orig, text in texts:
                if kind == "domain":
                    s = fuzz.ratio(qn, text) * KIND_FACTOR[kind]
                else:
                    s = next(name_scores)
                    if s < 100.0:
                        s *= KIND_FACTOR[kind]
                    elif kind == "contact":
                        s = 96.0  # a person's exact name is strong, but not an exact company hit
                cur = best.get(slot)
                if cur is None or s > cur[0]:
                    best[slot] = (s, orig, kind)
            for slot, (s, orig, kind) in best.items():
                if s >= MIN_SCORE:
                    offer(slot, min(s, name_cap), orig, kind)
        return found

    def _offer_domain(self, domain: str, offer, exact_score: float) -> None:
        reg = registrable_domain(domain)
        seen: set[int] = set()
        for key in dict.fromkeys((domain, reg)):
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
        for bigram in cjk_bigrams(qt):
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
            qgrams = trigrams(qt)[:-1]  # no end anchor
            found = [grams.get(g) for g in qgrams]
            postings = [p for p in found if p is not None]
            if len(postings) == len(found):
                rarest = min(postings, key=len)
                vocab = self._vocab
                hits = [vocab[v] for v in rarest if vocab[v].startswith(qt) and vocab[v] != qt]
                if len(hits) > _PREFIX_MAX:  # the most used completions first
                    hits = heapq.nlargest(_PREFIX_MAX, hits, key=lambda t: (posting_len(tokens[t]), t))
                for t in hits:
                    out.setdefault(t, 0.85 + 0.1 * len(qt) / len(t))
        if len(qt) >= 4 and not any(_is_cjk(c) for c in qt):
            # One typo in a short word, two in a long one; two in a 5-7 letter word when it
            # sounds the same ("initek" / "initech", checked below).
            k = 1 if len(qt) < 5 else 2
            gram_set = dict.fromkeys(trigrams(qt))  # (in order: a set's would follow the hash seed)
            counts: Counter[int] = Counter()
            cap = max(5000, len(self._vocab) // 20)
            need = len(gram_set) - 4 * k  # an edit breaks up to 3 trigrams, a transposition 4
            for g in gram_set:
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
            # Sorted, so that equally close words are taken in one order on every replica (vocabulary
            # ids follow the order a set gave the words when they were indexed).
            pool.sort()
            for t, dist, _ in process.extract(qt, pool, scorer=OSA.distance, score_cutoff=k, limit=_FUZZY_MAX):
                if t == qt or (dist == 2 and len(qt) < 8 and not sounds_alike(qt, t)):
                    continue
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
            total = sum(posting_len(tokens[t]) for t in exp)
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
                for tok, sim in sorted(exp.items(), key=lambda x: (-x[1], x[0])):
                    # the weights only fall from token to token, so a slot keeps its first one;
                    # new slots are appended in posting order (all in C: no loop per slot here)
                    fresh = dict.fromkeys(posting_iter(tokens[tok]), weight * sim)
                    for slot in fresh.keys() & best.keys():
                        del fresh[slot]
                    best.update(fresh)
                    budget -= posting_len(tokens[tok])
                    if budget <= 0:
                        break
                if not acc:
                    acc = best
                else:
                    for slot, w in best.items():
                        acc[slot] = acc.get(slot, 0.0) + w
            else:
                # a common token: only re-rank candidates the rarer tokens found
                hit: dict[int, float] = {}
                for tok, sim in exp.items():
                    p = tokens[tok]
                    if posting_len(p) <= 4 * len(acc):
                        for slot in posting_iter(p):
                            if slot in acc and hit.get(slot, 0.0) < sim:
                                hit[slot] = sim
                    else:
                        for slot in acc:
                            if hit.get(slot, 0.0) < sim and posting_contains(p, slot):
                                hit[slot] = sim
                for slot, sim in hit.items():
                    acc[slot] += weight * sim
        alive, ntok = self._slot_alive, self._slot_ntok
        items: Iterable[tuple[int, float]] = acc.items()
        # Two common words can gather tens of thousands of slots: drop, in C, those that can't
        # reach the top (exact: of the best `enough` by weight at least _CANDIDATES are alive,
        # and each of those keeps at least `floor`; a dropped slot keeps less than its weight).
        enough = _CANDIDATES + len(self._slot_cid) - self._live
        if len(acc) > 4 * enough:
            floor = heapq.nlargest(enough, acc.values())[-1] - 0.05 * self._max_ntok
            items = compress(items, map(operator.ge, acc.values(), repeat(floor)))
        # fewer extra words first among equals: "Acme" before "Acme Analytics Group"
        keyed = {s: v - 0.05 * ntok[s] for s, v in items if alive[s]}
        # sorted() is stable, like nlargest: equal keys keep the order the postings gave them
        return sorted(keyed, key=keyed.__getitem__, reverse=True)[:_CANDIDATES]
