"""Face tracks: synthetic cases for the rules, then the real dlib engine on
the shared videos (a face seen in many frames is one track)."""

from __future__ import annotations

import numpy as np
import pytest

from media_ingest.tracking import FrameFace, Track, build_tracks, iou
from media_ingest.video import sample_frames
from tests.media_ingest.conftest import HAMILTON, video_path

RNG = np.random.default_rng(42)


def _identity(dim: int = 128) -> np.ndarray:
    vector = RNG.normal(size=dim)
    return vector / np.linalg.norm(vector)


def _jitter(identity: np.ndarray, amount: float = 0.15) -> np.ndarray:
    """The same person in another frame: cosine ~0.99 to ``identity``."""
    vector = identity + RNG.normal(size=identity.shape) * amount / np.sqrt(identity.size)
    return vector / np.linalg.norm(vector)


def _face(frame: int, x: float, identity: np.ndarray, *, y: float = 100, size: float = 80,
          quality: float = 0.5) -> FrameFace:  # fmt: skip
    return FrameFace(
        frame_index=frame,
        time_s=frame * 0.5,
        box=(x, y, x + size, y + size),
        landmarks=None,
        quality=quality,
        embedding=_jitter(identity),
        payload=("frame", frame),
    )


def test_one_face_moving_across_frames_is_one_track():
    person = _identity()
    frames = [[_face(i, 100 + 30 * i, person, quality=0.3 + 0.05 * i)] for i in range(10)]
    (track,) = build_tracks(frames)
    assert len(track) == 10
    assert (track.first_time_s, track.last_time_s) == (0.0, 4.5)
    assert track.best is track.faces[-1]
    assert track.best.payload == ("frame", 9)
    assert np.linalg.norm(track.embedding) == pytest.approx(1.0, abs=1e-5)
    assert float(track.embedding @ person) > 0.98


def test_gaps_are_bridged_up_to_max_gap_frames():
    person = _identity()
    seen_at = [0, 1, 2, 5, 6, 12, 13]  # 2 missed frames, then 5 missed frames
    frames = [[_face(i, 100, person)] for i in seen_at]
    tracks = build_tracks(frames, max_gap_frames=2)
    assert [[f.frame_index for f in t.faces] for t in tracks] == [[0, 1, 2, 5, 6], [12, 13]]
    # Empty frames given explicitly change nothing: gaps come from frame_index.
    with_empty = [[_face(i, 100, person)] if i in seen_at else [] for i in range(14)]
    assert len(build_tracks(with_empty, max_gap_frames=2)) == 2
    assert len(build_tracks(frames, max_gap_frames=5)) == 1
    assert len(build_tracks(frames, max_gap_frames=0)) == 3


def test_two_crossing_faces_keep_their_identities():
    """A walks right, B walks left; mid-way their boxes overlap and A's new
    box overlaps B's old box more than its own: the embeddings decide."""
    a, b = _identity(), _identity()
    frames = []
    for i in range(9):
        frames.append([_face(i, 100 + 50 * i, a), _face(i, 500 - 50 * i, b, y=110)])
    tracks = build_tracks(frames)
    assert len(tracks) == 2
    for track in tracks:
        assert len(track) == 9
        xs = [f.box[0] for f in track.faces]
        assert xs == sorted(xs) or xs == sorted(xs, reverse=True)  # never swaps
    sims = sorted(float(t.embedding @ person) for t in tracks for person in (a, b))
    assert sims[:2] < [0.5, 0.5] and sims[2:] > [0.98, 0.98]


def test_same_place_different_person_starts_a_new_track():
    a, b = _identity(), _identity()
    frames = [[_face(i, 100, a)] for i in range(3)] + [[_face(i, 100, b)] for i in range(3, 6)]
    assert [len(t) for t in build_tracks(frames)] == [3, 3]


def test_same_person_jumping_across_the_picture_starts_a_new_track():
    """A cut to another shot: same embedding, implausible move and size."""
    a = _identity()
    frames = [[_face(0, 50, a)], [_face(1, 60, a)], [_face(2, 500, a, size=200)]]
    assert [len(t) for t in build_tracks(frames)] == [2, 1]


def test_mixed_frame_indexes_are_refused():
    a = _identity()
    with pytest.raises(ValueError):
        build_tracks([[_face(0, 0, a), _face(1, 100, a)]])


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


# --- real engine ----------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    from recognition.engines.registry import build_engine

    # Video frames are upright; rotation retries on empty frames only cost time.
    return build_engine("dlib", rotate_retry=False)


def _detect(engine, name: str, *, fps: float, max_side: int) -> list[list[FrameFace]]:
    frames = list(sample_frames(video_path(name), fps=fps, max_side=max_side, timeout_s=60))
    results = engine.analyze_batch([f.image for f in frames])
    return [
        [
            FrameFace(frame.index, frame.time_s, face.box, face.landmarks, face.quality, vector)
            for face, vector in zip(faces, vectors, strict=True)
        ]
        for frame, (faces, vectors) in zip(frames, results, strict=True)
    ]


def _check_tracks(tracks: list[Track], detections: int) -> None:
    assert sum(len(t) for t in tracks) == detections
    for track in tracks:
        times = [f.time_s for f in track.faces]
        assert times == sorted(set(times))  # one face per frame, in order
        assert track.first_time_s <= track.best.time_s <= track.last_time_s


def test_hamilton_clip_faces_collapse_into_few_tracks(engine):
    frames = _detect(engine, HAMILTON, fps=2.0, max_side=640)
    detections = sum(len(f) for f in frames)
    tracks = build_tracks(frames)
    _check_tracks(tracks, detections)
    # The singer in close-up from 3.0 s to 7.0 s (9 samples) is one track;
    # the far shot before it and the audience member after are others.
    longest = max(tracks, key=len)
    assert len(longest) >= 8
    assert longest.last_time_s - longest.first_time_s >= 3.5
    assert detections >= 12
    assert len(tracks) <= detections // 3


def test_pedestrians_are_tracked_without_merging_people(engine):
    frames = _detect(engine, "fnp_video.mp4", fps=2.0, max_side=960)
    detections = sum(len(f) for f in frames)
    tracks = build_tracks(frames)
    _check_tracks(tracks, detections)
    assert max(len(f) for f in frames) >= 3  # several people at once
    assert len(tracks) < detections / 2
    # Faces seen at the same time are different people: each one's faces are
    # closer to their own track than the two tracks are to each other.
    overlapping = 0
    for i, first in enumerate(tracks):
        for second in tracks[i + 1 :]:
            if {f.frame_index for f in first.faces} & {f.frame_index for f in second.faces}:
                overlapping += 1
                between = float(first.embedding @ second.embedding)
                for track in (first, second):
                    own = [float(f.embedding @ track.embedding) for f in track.faces]
                    assert between < np.median(own)
    assert overlapping >= 2
