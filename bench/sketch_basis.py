"""How much of a filtered query's real matches a 128-D sketch can shortlist,
in the engine's random basis against a basis fitted to the faces, over
several shapes of face-like data (numpy only, no database).

    python -m bench.sketch_basis --rows 1000000 [--centres correlated spread steep random]

The 512-D search index is built over the first 128 coordinates of each
stored embedding and re-ranks a shortlist on all 512 (``vectors/indexes.py``).
For each data set (``bench.search``'s generator: identity centres plus
noise, 12 faces per identity) and a filter keeping 10% of the faces, this
prints the share of the real matches (exact top 10, cosine >= 0.5) that rank
within the sketch's top 40 / 80 / 160: an upper bound on the match recall of
any graph over that sketch. The fitted basis is the production fit
(``recognition.engines.basis.principal_axes``) on the first 10,000 faces,
as the scheduled fit sees them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> None:
    from bench.search import CENTRES, DataSet, exact_topk, shortlist_recall
    from recognition.engines.basis import principal_axes, sketch_energy

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--centres", nargs="+", default=list(CENTRES), choices=CENTRES)
    parser.add_argument(
        "--fit-rows",
        type=int,
        default=10_000,
        help="faces the basis is fitted on (vectors.basis.FIT_MIN_FACES)",
    )
    args = parser.parse_args(argv)
    shortlists = (40, 80, 160)
    print(f"{args.rows:,} x {args.dim}, filter keeps 10%, top 10, threshold {args.threshold}")
    for kind in args.centres:
        t0 = time.perf_counter()
        data = DataSet(args.rows, args.dim, kind)
        queries, _ = data.queries(args.queries + 20)
        queries = queries[20:]  # as bench.search: the first 20 warm its cache
        days = data.media_day
        mask = ((days >= 300) & (days < 400))[data.face_media]
        truth = exact_topk(data.vectors, queries, 10, mask=mask)
        fitted = principal_axes(data.vectors[: args.fit_rows]).astype(np.float32)
        random_basis, fitted_basis = (
            shortlist_recall(
                data,
                queries,
                truth,
                mask,
                rotation=rotation,
                shortlists=shortlists,
                threshold=args.threshold,
            )
            for rotation in (None, fitted)
        )
        sample = data.vectors[args.fit_rows : 2 * args.fit_rows]  # faces the fit never saw
        print(
            f"  {kind:<11} sketch energy {sketch_energy(sample):.2f} -> "
            f"{sketch_energy(sample @ fitted):.2f};  shortlist {'/'.join(map(str, shortlists))}: "
            f"random basis {' / '.join(f'{r:.3f}' for r in random_basis)}, "
            f"fitted {' / '.join(f'{r:.3f}' for r in fitted_basis)}  "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
