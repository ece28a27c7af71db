"""Group per-frame face detections of a video into tracks.

A face seen in 40 sampled frames should become one track (one catalogue
entry with its best crop, its mean embedding and its time range), not 40
faces. Frames are processed in order; in each one, detections are matched to
the tracks alive so far with one Hungarian assignment
(:func:`scipy.optimize.linear_sum_assignment`) over a cost that mixes
embedding distance (dominant) and box overlap. A pair can only match if it
passes both gates:

- appearance: cosine similarity to the track (the better of its mean and its
  latest face) is at least ``min_similarity``;
- position: the boxes overlap (IoU >= ``min_iou``) or the centre moved at
  most ``max_motion`` face sizes per sampled frame elapsed (people move a lot
  in 0.5 s at 2 fps; a cut to a different shot moves them further).

A track not matched for more than ``max_gap_frames`` sampled frames is
closed (occlusion, a turned head, a missed detection are bridged; a person
who leaves and comes back much later starts a new track, and search will
find both). Plain Python + numpy/scipy: no Django, no engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

# Defaults measured with the dlib engine (128-D ResNet, L2-normalised); the
# figures are in build_tracks' docstring.
DEFAULT_MIN_SIMILARITY = 0.90
DEFAULT_MIN_IOU = 0.1
DEFAULT_MAX_GAP_FRAMES = 4
DEFAULT_MAX_MOTION = 1.5
# Weight of (1 - IoU) against the normalised embedding distance in the cost.
_POSITION_WEIGHT = 0.3
_FORBIDDEN = 1e6


@dataclass(eq=False)
class FrameFace:
    """One detection in one sampled frame.

    frame_index: the sampled frame's index (consecutive samples differ by 1;
        gaps are counted in these units).
    box: (left, top, right, bottom) in pixels of the sampled frame.
    embedding: 1-D float vector, L2-normalised (as every engine returns).
    payload: anything the caller wants back (e.g. the DetectedFace or a crop).
    """

    frame_index: int
    time_s: float
    box: tuple[float, float, float, float]
    landmarks: Any = field(repr=False)
    quality: float
    embedding: np.ndarray = field(repr=False)
    payload: Any = field(default=None, repr=False)


@dataclass(eq=False)
class Track:
    faces: list[FrameFace] = field(default_factory=list)

    @property
    def best(self) -> FrameFace:
        """The highest-quality face (the earliest one on ties)."""
        return max(self.faces, key=lambda f: (f.quality, -f.frame_index))

    @property
    def first_time_s(self) -> float:
        return self.faces[0].time_s

    @property
    def last_time_s(self) -> float:
        return self.faces[-1].time_s

    @property
    def first_frame_index(self) -> int:
        return self.faces[0].frame_index

    @property
    def last_frame_index(self) -> int:
        return self.faces[-1].frame_index

    @property
    def embedding(self) -> np.ndarray:
        """L2-normalised mean of the faces' embeddings (float32)."""
        mean = np.mean([np.asarray(f.embedding, dtype=np.float64) for f in self.faces], axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)

    def __len__(self) -> int:
        return len(self.faces)

    def __repr__(self) -> str:
        return (
            f"Track({len(self.faces)} faces, {self.first_time_s:.2f}-{self.last_time_s:.2f} s, "
            f"best quality {self.best.quality:.2f})"
        )


class _Open:
    """A track being built, with a running embedding sum for matching."""

    def __init__(self, face: FrameFace):
        self.track = Track([face])
        self.total = _unit(face.embedding).astype(np.float64)

    def add(self, face: FrameFace) -> None:
        self.track.faces.append(face)
        self.total += _unit(face.embedding)

    @property
    def last(self) -> FrameFace:
        return self.track.faces[-1]

    def mean_unit(self) -> np.ndarray:
        return self.total / max(float(np.linalg.norm(self.total)), 1e-12)


def build_tracks(
    frames: Iterable[list[FrameFace]],
    *,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    min_iou: float = DEFAULT_MIN_IOU,
    max_gap_frames: int = DEFAULT_MAX_GAP_FRAMES,
    max_motion: float = DEFAULT_MAX_MOTION,
) -> list[Track]:
    """Tracks from ``frames`` (one list of FrameFace per sampled frame, in
    time order; frames without faces may be given as empty lists or left
    out, gaps are measured with ``frame_index``). Returns tracks ordered by
    their first appearance; every face lands in exactly one track.

    Defaults (dlib 128-D embeddings, sampling at 2 fps), from measurements
    on ../shared/data/faces (cosine similarity of L2-normalised embeddings):

    - LFW-style pairs, folds 0-2 of pairs.tsv (different photos of a person,
      often years apart; 442 same / 447 different pairs with a face found):
      same person 1st/5th/50th percentile 0.914 / 0.925 / 0.955; different
      people 50th/90th/99th percentile 0.836 / 0.881 / 0.903. At 0.90, 99.8%
      of same pairs pass and 1.8% of different pairs do (0.88: 11.6%).
    - In video, one person in consecutive 2-fps samples scores higher
      (0.916-0.987, Hamilton clip and fnp_video, 22 links), but different
      people seen in the same frame scored 0.83-0.914 (fnp_video
      pedestrians: small, blurred faces look alike to dlib).
    - dlib's own rule, Euclidean 0.6 on these unit vectors, is cosine 0.82:
      right for "could be the same person" on good photos, far too loose to
      glue frames together (83% of different LFW pairs pass it).

    Hence ``min_similarity=0.90`` as a gate, with position doing the rest:
    embedding alone cannot separate two blurred pedestrians. A too-strict
    gate only splits one person's track in two (search still finds both);
    a too-loose one would merge people, which is worse.

    - ``min_iou=0.1`` / ``max_motion=1.5``: at 2 fps a walking face moves
      about half its width between samples (Hamilton: 0.4-0.5); a shot
      change moves it further or changes its size more than 2x, and then a
      new track is the safe answer.
    - ``max_gap_frames=4``: up to 2 s without a detection (a turned head, a
      missed profile) is bridged at 2 fps.
    """
    if not 0.0 < min_similarity <= 1.0 or max_gap_frames < 0:
        raise ValueError("min_similarity must be in (0, 1] and max_gap_frames >= 0")
    open_tracks: list[_Open] = []
    closed: list[Track] = []
    for detections in frames:
        if not detections:
            continue
        frame_index = detections[0].frame_index
        if any(d.frame_index != frame_index for d in detections):
            raise ValueError("every face of one frame must carry the same frame_index")
        still_open = []
        for candidate in open_tracks:
            if frame_index - candidate.last.frame_index > max_gap_frames + 1:
                closed.append(candidate.track)
            else:
                still_open.append(candidate)
        open_tracks = still_open

        matched = _assign(open_tracks, detections, min_similarity, min_iou, max_motion)
        for t, d in matched:
            open_tracks[t].add(detections[d])
        taken = {d for _, d in matched}
        open_tracks.extend(_Open(det) for i, det in enumerate(detections) if i not in taken)
    closed.extend(candidate.track for candidate in open_tracks)
    closed.sort(key=lambda track: (track.first_frame_index, track.faces[0].box[0]))
    return closed


def _assign(
    open_tracks: list[_Open],
    detections: list[FrameFace],
    min_similarity: float,
    min_iou: float,
    max_motion: float,
) -> list[tuple[int, int]]:
    if not open_tracks:
        return []
    embeddings = np.stack([_unit(d.embedding) for d in detections])
    cost = np.full((len(open_tracks), len(detections)), _FORBIDDEN)
    for t, candidate in enumerate(open_tracks):
        similarity = np.maximum(
            embeddings @ candidate.mean_unit(), embeddings @ _unit(candidate.last.embedding)
        )
        elapsed = detections[0].frame_index - candidate.last.frame_index
        for d, det in enumerate(detections):
            if similarity[d] < min_similarity:
                continue
            overlap = iou(candidate.last.box, det.box)
            if overlap < min_iou and not _plausible_move(
                candidate.last.box, det.box, max_motion * max(elapsed, 1)
            ):
                continue
            distance = (1.0 - similarity[d]) / max(1.0 - min_similarity, 1e-6)
            cost[t, d] = distance + _POSITION_WEIGHT * (1.0 - overlap)
    rows, cols = linear_sum_assignment(cost)
    return [(int(t), int(d)) for t, d in zip(rows, cols, strict=True) if cost[t, d] < _FORBIDDEN]


def iou(a, b) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _plausible_move(a, b, max_sizes: float) -> bool:
    """The centre moved at most ``max_sizes`` face sizes and the size changed
    at most 2x (a zoom or shot change beyond that is a new track)."""
    size_a = max(a[2] - a[0], a[3] - a[1], 1e-6)
    size_b = max(b[2] - b[0], b[3] - b[1], 1e-6)
    if max(size_a, size_b) / min(size_a, size_b) > 2.0:
        return False
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return bool(np.hypot(dx, dy) <= max_sizes * (size_a + size_b) / 2)


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64).ravel()
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
