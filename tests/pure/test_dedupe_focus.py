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
