"""Benchmark: the full-size reference learning-rate sweep for one CID (not a test).

    .venv/bin/python bench/reference_sweep.py [--cid 102] [--images 500] [--epochs 5]

Prints the total time, the time per rate and each rate's final-epoch mean loss. With --cid 102 the
model initialisation equals the chapter's (seed 102 for data and init), so the losses can be set
against facts.md, which quotes them at 2 threads (the sweep runs with 1).
"""

from __future__ import annotations

import argparse
import time

from reference.microscopy import LEARNING_RATES, lr_sweep, make_training_set

# facts.md: seed 102 data and init, 2 intra-op threads.
FACTS_2_THREADS = {0.001: 0.00591, 0.01: 0.00281, 0.1: 0.000875, 0.5: 0.00196, 0.9: 0.00475, 1.5: float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cid", type=int, default=102)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    make_training_set(args.images)
    data_s = time.perf_counter() - start
    print(f"training set ({args.images} images): {data_s:.2f} s")

    rows = []
    for rate in LEARNING_RATES:  # one rate per call, to time each; same numbers as one call with all rates
        t0 = time.perf_counter()
        loss = lr_sweep(args.cid, [rate], num_images=args.images, num_epochs=args.epochs)[rate]
        rows.append((rate, loss, time.perf_counter() - t0 - data_s))
    total = time.perf_counter() - start

    print(f"cid {args.cid}, {args.images} images x {args.epochs} epochs, 1 thread")
    print(f"{'lr':>7}  {'final loss':>12}  {'facts.md (2 thr)':>16}  {'time/rate':>9}")
    for rate, loss, seconds in rows:
        print(f"{rate:>7g}  {loss:>12.6g}  {FACTS_2_THREADS.get(rate, float('nan')):>16.6g}  {seconds:>8.2f}s")
    print(f"total {total:.2f} s (training only: {sum(r[2] for r in rows):.2f} s)")


if __name__ == "__main__":
    main()
