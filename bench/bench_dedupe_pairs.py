"""CPU time of the duplicate screen on generated customers (no database).

    python bench/bench_dedupe_pairs.py --customers 100000
    python bench/bench_dedupe_pairs.py --customers 20000 --incoming 2000   # the importer's case
    python bench/bench_dedupe_pairs.py --customers 20000 --dump pairs.txt  # to compare runs
    python bench/bench_dedupe_pairs.py --report    # what crm-bot dedupe lists

``--incoming N`` treats the last N records as an import's new rows: only pairs that involve
one of them are wanted (``customer_pairs(..., focus=...)``). CPU time (``time.process_time``),
since the machine is shared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from datagen import generate

from crm import dedupe
from crm.normalize import normalize_name


def records(n: int, seed: int) -> list[dedupe.CustomerRecord]:
    out = []
    for c in generate(n, seed):
        rec = dedupe.CustomerRecord(
            c.customer_id,
            c.name,
            normalize_name(c.name),
            c.domains[0] if c.domains else None,
            tuple(a for a in (normalize_name(x) for x in c.aliases) if a),
        )
        rec.emails.update(c.contact_emails)
        out.append(rec)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--incoming", type=int, default=0, help="only pairs involving the last N records")
    parser.add_argument("--dump", type=Path, help="write the pairs (a, b, score, verdict, reasons) here")
    parser.add_argument(
        "--report", action="store_true", help="the pairs crm-bot dedupe lists (a name group's against its keeper)"
    )
    args = parser.parse_args(argv)
    if args.report and args.incoming:
        parser.error("--report lists a whole workspace: without --incoming")
    recs = records(args.customers, args.seed)
    focus = None
    if args.incoming:
        focus = [i >= len(recs) - args.incoming for i in range(len(recs))]
    t0 = time.process_time()
    candidates = dedupe.find_candidates(recs, focus=focus)
    t1 = time.process_time()
    if args.report:
        pairs = dedupe.report_pairs(recs, candidates=candidates)
    else:
        pairs = dedupe.customer_pairs(recs, candidates=candidates, focus=focus)
    t2 = time.process_time()
    print(
        f"{args.customers:,} customers, incoming {args.incoming or 'all'}: {len(candidates.codes):,} candidates "
        f"in {t1 - t0:.2f} s, {len(pairs):,} pairs scored in {t2 - t1:.2f} s, total {t2 - t0:.2f} s CPU"
    )
    if args.dump:
        with args.dump.open("w") as f:
            for p in pairs:
                f.write(f"{p.a}\t{p.b}\t{p.score}\t{p.verdict}\t{'; '.join(p.reasons)}\n")


if __name__ == "__main__":
    main()
