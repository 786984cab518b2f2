"""How fast the customer-name finder (used by "who's talked to …?" and "Log to CRM") is at scale.

    python bench/bench_finder.py [--names 100000]

Indexes ``--names`` generated company names (``bench/datagen.py``) in a ``NameDictionary``, then
scans a 3,800-character message that names one of them, and reports the build time, the scan
time, and whether the named customer was found.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datagen import generate

from crm.insights import NameDictionary
from crm.normalize import normalize_name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=100_000)
    args = parser.parse_args()
    names = [c.name for c in generate(args.names)]
    started = time.perf_counter()
    finder = NameDictionary()
    for i, name in enumerate(names):
        finder.add(i, [normalize_name(name)])
    built = time.perf_counter() - started
    target = len(names) // 2
    text = ("We talked about the renewal and the next steps with the team, " * 60) + f"then {names[target]} called."
    started = time.perf_counter()
    for _ in range(10):
        found = finder.find(text)
    per_text = (time.perf_counter() - started) / 10
    hit = target in {m.customer_id for m in found}
    print(f"{len(finder):,} names indexed in {built:.2f} s")
    print(f"a {len(text):,}-character message scanned in {per_text * 1000:.1f} ms; the named customer found: {hit}")


if __name__ == "__main__":
    main()
