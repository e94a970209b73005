"""Random operations on two tiny films, as a library user makes them over days (single files,
batches, clips, job files, other settings and outputs, -n 1 or 2, kills): how many
sequences end with every output equal to a fresh run's.

    .venv/bin/python bench/sequences.py [--ops 200] [--length 8] [--first-seed 1] [--keep]

The operations are drawn in sequences of --length runs on one work root each
(tests/sequences.py, which tests/test_sequences.py runs for a few seeds); every run that is
not killed must exit 0 and leave outputs byte-identical to the same command run once in an
empty folder. A failing seed is printed with its history: keep it as a regular test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import common

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from sequences import make_films, run_seed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--length", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    rows: list[tuple[object, ...]] = [("seed", "runs", "ended well", "problems")]
    failed = 0
    with common.workspace("drapto-sequences-", args.keep) as folder:
        films = make_films(folder)
        sequences = -(-args.ops // args.length)
        with common.timed() as took:
            for seed in range(args.first_seed, args.first_seed + sequences):
                root = folder / f"seed{seed}"
                root.mkdir()
                seq, problems = run_seed(root, films, seed, args.length)
                failed += bool(problems)
                rows.append((seed, len(seq.done), "yes" if not problems else "NO",
                             len(problems)))
                if problems:
                    print(f"seed {seed}:\n{seq.history()}\n" + "\n".join(problems), flush=True)
        common.table(rows, title=f"{sequences * args.length} operations in {sequences} "
                                 f"sequences of {args.length}")
        print(f"{sequences - failed} of {sequences} sequences ended well "
              f"({took.seconds:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
