"""The duplicate screen's shortcuts give the same pairs as the full run."""

from __future__ import annotations

import random

import numpy as np

from crm.dedupe import CustomerRecord, customer_pairs, find_candidates
from crm.normalize import normalize_name

WORDS = "acme apex nobel novel harbor harris vector stark star heritage pioneer cyberdyne".split()
KINDS = "labs trading analytics robotics solutions finance insurance ventures".split()


def _records(n: int, seed: int) -> list[CustomerRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = f"{rng.choice(WORDS)} {rng.choice(KINDS)}"
        if rng.random() < 0.3:  # a typo
            k = rng.randrange(1, len(name) - 1)
            name = name[:k] + rng.choice("aeiouxz") + name[k + 1 :]
        aliases: tuple[str, ...] = ()
        if rng.random() < 0.2:  # a former name: the initials, or another company's name
            aliases = (normalize_name("".join(w[0] for w in name.split())),)
        elif rng.random() < 0.1:
            aliases = (normalize_name(f"{rng.choice(WORDS)} {rng.choice(KINDS)}"),)
        rec = CustomerRecord(i, name.title(), normalize_name(name), f"{name.split()[0]}{i % 7}.com", aliases)
        if rng.random() < 0.2:
            rec.emails.add(f"info@{name.split()[0]}.com")
        if rng.random() < 0.2:
            rec.phones.add(f"+1310555{rng.randrange(100):04d}")
        out.append(rec)
    return out


def test_focus_gives_exactly_the_pairs_that_involve_a_marked_record():
    records = _records(400, 7)
    everything = customer_pairs(records)
    assert len(everything) > 50
    focus = [i % 3 == 0 for i in range(len(records))]
    wanted = [p for p in everything if focus[p.a] or focus[p.b]]
    got = customer_pairs(records, focus=focus)
    assert got == wanted
    assert len(wanted) < len(everything)
    # Blocks of unmarked records only make no candidates at all.
    assert len(find_candidates(records, focus=focus).pairs) < len(find_candidates(records).pairs)
    assert customer_pairs(records, focus=[False] * len(records)) == []


def test_a_former_name_lifts_a_pair_whose_current_names_fail_the_cheap_test():
    records = [
        CustomerRecord(1, "Acme Analytics", "acme analytics", aliases=("acme robotic",)),
        CustomerRecord(2, "Acme Robotics", "acme robotics"),
        CustomerRecord(3, "Harbor Finance", "harbor finance", aliases=("hf",)),
        CustomerRecord(4, "Harris Insurance", "harris insurance"),
    ]
    assert (0, 1) in find_candidates(records).pairs
    pairs = {(p.a, p.b): p for p in customer_pairs(records)}
    assert set(pairs) == {(1, 2)}
    assert pairs[(1, 2)].score >= 88 and pairs[(1, 2)].reasons[0].startswith("similar name")


def test_the_batched_cheap_tests_pass_exactly_the_pairs_a_per_pair_check_passes():
    """The cheap tests run in C over all pairs at once; each pair's outcome is that of the test on its own."""
    from rapidfuzz import fuzz

    from crm.dedupe import _PairTexts, _passing_cheap_tests

    recs = _records(300, seed=11)
    names = find_candidates(recs).names
    core, spaceless, aliases = names.core, names.spaceless, names.aliases
    rng = random.Random(5)
    # Cuts on and beside real scores, so a score just under its cut (float32 would round it up) is in the set.
    tests = []
    seen = set()
    for _ in range(3000):
        i, j = sorted(rng.sample(range(len(recs)), 2))
        if core[i] == core[j] or (i, j) in seen:
            continue  # candidate pairs are distinct
        seen.add((i, j))
        cut = rng.choice(
            [62.0, 80.0, round(fuzz.token_set_ratio(core[i], core[j]) + rng.choice([-1e-6, 0.0, 1e-6]), 6)]
        )
        tests.append((i, j, rng.random() < 0.3, max(cut, 1.0)))

    def alike(x: str, sx: str, y: str, sy: str, cut: float) -> bool:
        return bool(
            fuzz.token_set_ratio(x, y, score_cutoff=cut)
            or (not (" " in x and " " in y) and fuzz.partial_ratio(sx, sy, score_cutoff=cut))
        )

    def one_by_one(i: int, j: int, shares: bool, cut: float) -> bool:
        if alike(core[i], spaceless[i], core[j], spaceless[j], cut):
            return True
        if shares and fuzz.ratio(spaceless[i], spaceless[j], score_cutoff=cut):
            return True
        return former(i, j, cut)

    def former(i: int, j: int, cut: float) -> bool:
        names_i = [(core[i], spaceless[i]), *((a, a.replace(" ", "")) for a in aliases[i])]
        names_j = [(core[j], spaceless[j]), *((a, a.replace(" ", "")) for a in aliases[j])]
        return any(
            (n or m) and (x == y or alike(x, sx, y, sy, cut))
            for n, (x, sx) in enumerate(names_i)
            for m, (y, sy) in enumerate(names_j)
        )

    groups: dict[tuple[bool, float], list[tuple[int, int]]] = {}
    for i, j, shares, cut in tests:
        groups.setdefault((shares, cut), []).append((i, j))
    batches = [
        (np.array([i for i, _ in pairs], dtype=np.int64), np.array([j for _, j in pairs], dtype=np.int64), shares, cut)
        for (shares, cut), pairs in groups.items()
    ]
    passed = _passing_cheap_tests(batches, _PairTexts(core, spaceless, aliases))
    batched = {
        (i, j, shares) for first, second, shares in passed for i, j in zip(first.tolist(), second.tolist(), strict=True)
    }
    expected = {(i, j, shares) for i, j, shares, cut in tests if one_by_one(i, j, shares, cut)}
    assert batched == expected
    assert 0 < len(expected) < len(tests)  # some pass, some don't


def _rich_records(n: int, seed: int) -> list[CustomerRecord]:
    """_records with addresses, websites that differ, a switchboard shared by a crowd and a chain."""
    rng = random.Random(seed)
    out = _records(n, seed)
    for rec in out:
        if rng.random() < 0.5:
            rec.addresses.add(f"{rng.choice(['10115', '75002', '94105'])}|{rng.randrange(40)}")
        if rng.random() < 0.3:
            rec.domain = None
        if rng.random() < 0.1:
            rec.phones.add("+13105550000")  # a switchboard: more than MAX_GROUP records
    for k in range(210):  # one chain's name, more than MAX_NAME_PAIRS records: a crowd
        out.append(CustomerRecord(n + k, "Starbucks", "starbucks", phones={f"+4420{k:07d}"}))
    return out


def _evidence(records: list[CustomerRecord], crowded: frozenset[str]) -> list[frozenset[str]]:
    """Each record's evidence keys (website, emails, phones, addresses), a crowd's aside."""
    from crm.dedupe import _evidence_keys

    return [frozenset(_evidence_keys(r)) - crowded for r in records]


def _one_by_one(records: list[CustomerRecord], min_score: float) -> list:
    """The screen pair by pair, without its shortcuts: every candidate pair through the cheap
    tests on its own (the plain ratio only for shared evidence), then the careful score."""
    from rapidfuzz import fuzz

    from crm.dedupe import NAME_FLOOR, PREFILTER_MARGIN, _score_pair

    c = find_candidates(records)
    evidence = _evidence(records, c.crowded)
    names = c.names
    core, spaceless, aliases = names.core, names.spaceless, names.aliases
    cutoff = min_score - PREFILTER_MARGIN
    floor_cutoff = min(cutoff, NAME_FLOOR - PREFILTER_MARGIN)

    def alike(x: str, sx: str, y: str, sy: str, cut: float) -> bool:
        return bool(
            fuzz.token_set_ratio(x, y, score_cutoff=cut)
            or (not (" " in x and " " in y) and fuzz.partial_ratio(sx, sy, score_cutoff=cut))
        )

    def cheap(i: int, j: int, shares: bool, cut: float) -> bool:
        names_i = [(core[i], spaceless[i]), *((a, a.replace(" ", "")) for a in aliases[i])]
        names_j = [(core[j], spaceless[j]), *((a, a.replace(" ", "")) for a in aliases[j])]
        if alike(core[i], spaceless[i], core[j], spaceless[j], cut):
            return True
        if shares and fuzz.ratio(spaceless[i], spaceless[j], score_cutoff=cut):
            return True
        return any(
            (n or m) and (x == y or alike(x, sx, y, sy, cut))
            for n, (x, sx) in enumerate(names_i)
            for m, (y, sy) in enumerate(names_j)
        )

    out = []
    for i, j in c.pairs:
        if i in c.crowds and c.crowds[i] == c.crowds.get(j):
            continue
        common = evidence[i] & evidence[j]
        shares = bool(common)
        cut = 0.0 if any(k[0] == "e" for k in common) else floor_cutoff if shares else cutoff
        if cut > 0 and core[i] != core[j] and not cheap(i, j, shares, cut):
            continue
        pair = _score_pair(names, i, j, records[i], records[j], min_score, shares, c.crowded)
        if pair is not None:
            out.append(pair)
    return sorted(out, key=lambda p: (-p.score, str(p.a), str(p.b)))


def test_the_screen_gives_the_pairs_that_scoring_each_candidate_on_its_own_gives():
    # Differing websites, phones and addresses rule some pairs out before any name test, and
    # the pairs are sorted into evidence groups in C: the outcome is the one-by-one screen's.
    records = _rich_records(500, seed=3)
    for min_score in (60.0, 76.0, 82.0, 88.0, 94.0):
        expected = _one_by_one(records, min_score)
        assert customer_pairs(records, min_score=min_score) == expected, min_score
        assert expected


def test_the_pairs_marked_as_sharing_evidence_are_those_that_share_a_key_no_crowd_has():
    records = _rich_records(500, seed=4)
    c = find_candidates(records)
    assert "p:+13105550000" in c.crowded and c.crowds
    evidence = _evidence(records, c.crowded)
    shares = [p for p in c.pairs if not evidence[p[0]].isdisjoint(evidence[p[1]])]
    mails = [p for p in shares if any(k[0] == "e" for k in evidence[p[0]] & evidence[p[1]])]
    assert shares and mails
    assert c.shared & c.pairs == set(shares)
    assert c.mailed & c.pairs == set(mails)


def test_pair_codes_are_the_pairs_of_each_block_and_window():
    from itertools import combinations

    from crm.dedupe import MAX_BLOCK, _block_codes, _block_pairs, _distinct, _pair_set, _window_codes

    rng = random.Random(9)
    n = 5000
    blocks = [sorted(rng.sample(range(n), rng.randrange(2, 40))) for _ in range(200)]
    expected = {p for members in blocks for p in combinations(members, 2)}
    assert _pair_set(_distinct(_block_codes(blocks, n)), n) == expected
    big = rng.sample(range(n), MAX_BLOCK + 50)  # in the order a sort by name gives
    window = {(min(i, j), max(i, j)) for i, j in _block_pairs(big, sort_key=big.index)}
    assert _pair_set(_distinct(_window_codes(big, n)), n) == window
    codes = _distinct(np.array([7, 3, 7, 1, 3], dtype=np.int64))
    assert codes.tolist() == [1, 3, 7]
