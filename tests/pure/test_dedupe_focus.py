"""The duplicate screen's shortcuts give the same pairs as the full run."""

from __future__ import annotations

import random

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

    from crm.dedupe import _passing_cheap_tests

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

    batched = set(_passing_cheap_tests(tests, core, spaceless, aliases, former))
    expected = {(i, j, shares) for i, j, shares, cut in tests if one_by_one(i, j, shares, cut)}
    assert batched == expected
    assert 0 < len(expected) < len(tests)  # some pass, some don't
