"""End-to-end throughput (decode -> detect -> align -> embed), Facet engines
vs the peer face_recognition, as ratios in one run, all given the same number
of worker processes (default 2 = this machine's cores; the peer through a
multiprocessing Pool, as its --cpus option does).

    python -m bench.throughput [--procs 2] [--portraits 300] [--runners ...]

Sets: "portraits" = the first N images (sorted) of pairs.tsv (LFW 250x250),
"groups" = every photo in groups/, reported separately with faces found per
image and how many of the peer's faces each engine also found (a peer box
counts as found when an engine box overlaps it: IoU >= 0.3 or one box's centre
inside the other). "CPU ms/img" is the CPU time the workers spent per image
(their own, all threads): on a machine shared with other work, wall-clock
ratios move with the load; the CPU-time ratio ("x peer CPU") barely does.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import time

import numpy as np

from bench.common import FACES, RUNNERS, analyse_paths, chunks, init_worker, make_pack_dir


def _warm_init(runner: str, pack_dir: str) -> None:
    init_worker(runner, pack_dir)
    import bench.common as common

    # Load weights / sessions before the clock starts (the peer loads at import).
    if runner != "face_recognition":
        common._state["engine"].analyze_batch([np.zeros((64, 64, 3), np.uint8)])


def _ping(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def run(runner: str, paths: list[str], procs: int, pack_dir: str, chunk: int):
    with mp.get_context("fork").Pool(
        procs, initializer=_warm_init, initargs=(runner, pack_dir)
    ) as pool:
        pool.map(_ping, range(procs * 4), chunksize=1)  # wait until all are warm
        start = time.perf_counter()
        rows = [r for part in pool.imap(analyse_paths, chunks(paths, chunk)) for r in part]
        elapsed = time.perf_counter() - start
    faces = sum(len(r["boxes"]) for r in rows)
    rss_mib = max(r["rss_kib"] for r in rows) / 1024
    return {
        "rows": rows,
        "elapsed": elapsed,
        "faces": faces,
        "rss_mib": rss_mib,
        "img_s": len(paths) / elapsed,
        "faces_s": faces / elapsed,
        "cpu_ms": 1000 * sum(r["cpu_s"] for r in rows) / len(rows),
    }


def overlaps(a, b) -> bool:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    if union > 0 and ix * iy / union >= 0.3:
        return True

    def inside(p, box):
        return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]

    centre = lambda box: ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # noqa: E731
    return inside(centre(a), b) or inside(centre(b), a)


def matched(peer_boxes, boxes) -> int:
    return sum(1 for p in peer_boxes if any(overlaps(p, b) for b in boxes))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--portraits", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=4, help="images per analyze_batch call")
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument("--sets", default="portraits,groups")
    args = parser.parse_args()
    runners = args.runners.split(",")
    pack_dir = make_pack_dir()
    with open(FACES / "pairs.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    portraits = sorted({r["image_a"] for r in rows} | {r["image_b"] for r in rows})
    portraits = [str(FACES / p) for p in portraits[: args.portraits]]
    groups = sorted(str(p) for p in (FACES / "groups").glob("*.jpg"))
    print(f"{args.procs} worker processes per runner; os.cpu_count()={os.cpu_count()}")
    for label, paths in (("portraits", portraits), ("groups", groups)):
        if label not in args.sets.split(","):
            continue
        print(f"\n## {label}: {len(paths)} images")
        results = {r: run(r, paths, args.procs, pack_dir, args.chunk) for r in runners}
        peer = results.get("face_recognition")
        print(
            f"{'runner':18} {'img/s':>7} {'faces/s':>8} {'faces':>6} {'x peer img/s':>12} "
            f"{'peer faces found':>16} {'peak RSS/worker MiB':>20} {'CPU ms/img':>10} "
            f"{'x peer CPU':>10}"
        )
        for runner, res in results.items():
            ratio = res["img_s"] / peer["img_s"] if peer else float("nan")
            cpu_ratio = peer["cpu_ms"] / res["cpu_ms"] if peer else float("nan")
            if peer:
                peer_total = peer["faces"]
                hit = sum(
                    matched(p["boxes"], r["boxes"])
                    for p, r in zip(peer["rows"], res["rows"], strict=True)
                )
                found = f"{hit}/{peer_total}"
            else:
                found = "-"
            print(
                f"{runner:18} {res['img_s']:7.2f} {res['faces_s']:8.2f} {res['faces']:6d} "
                f"{ratio:11.2f}x {found:>16} {res['rss_mib']:20.0f} {res['cpu_ms']:10.1f} "
                f"{cpu_ratio:9.2f}x",
                flush=True,
            )
        if label == "groups":
            print("\nfaces found per image:")
            print(f"{'image':34} " + " ".join(f"{r:>16}" for r in runners))
            for i, path in enumerate(paths):
                counts = " ".join(f"{len(results[r]['rows'][i]['boxes']):16d}" for r in runners)
                print(f"{os.path.basename(path):34} {counts}")


if __name__ == "__main__":
    main()
