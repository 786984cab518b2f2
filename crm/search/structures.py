"""Compact building blocks of the search index: an open-addressing hash multimap in two arrays,
token postings that stay a plain ``int`` until a token has a second customer, and the tokens,
trigrams and bigrams a name is indexed and looked up by."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

from crm.normalize import _is_cjk, acronym

Posting = int | array


class HashMultiMap:
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


def posting_len(p: Posting) -> int:
    return 1 if isinstance(p, int) else len(p)


def posting_iter(p: Posting) -> Iterable[int]:
    return (p,) if isinstance(p, int) else p


def posting_contains(p: Posting, slot: int) -> bool:
    if isinstance(p, int):
        return p == slot
    i = bisect_left(p, slot)
    return i < len(p) and p[i] == slot


def trigrams(token: str) -> list[str]:
    padded = f"^{token}$"
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def cjk_bigrams(token: str) -> list[str]:
    """Character bigrams of a token with CJK characters (those scripts have no spaces)."""
    if len(token) < 3 or not any(_is_cjk(c) for c in token):
        return []
    return [token[i : i + 2] for i in range(len(token) - 1)]


def name_index_tokens(norm: str) -> set[str]:
    toks = norm.split()
    out = set(toks)
    for t in toks:
        out.update(cjk_bigrams(t))
    acr = acronym(toks)
    if len(acr) >= 2:
        out.add(acr)
        full = "".join(t[0] for t in toks)
        if full != acr:
            out.add(full)
    return out
