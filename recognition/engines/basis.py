"""Embeddings wider than ``SKETCH_DIM`` leave the engines in one fixed random
orthonormal basis.

Search indexes a 512-D embedding by its first 128 coordinates (a *sketch*)
and re-ranks the shortlist on all of them (``vectors/indexes.py``): an HNSW
graph over 512 nearly independent coordinates loses recall at a million
faces, one over 128 does not (docs/benchmarks.md). In a random basis any 128
coordinates are a Johnson-Lindenstrauss projection, so the sketch's cosine
tracks the full cosine (within ~0.1) whatever a model does with its own
coordinates. A rotation changes no cosine: thresholds, accuracy and every
comparison between two embeddings are exactly as before.

Embeddings stored before a tenant's own basis is fitted are in this one
(``vectors.basis`` rotates them from here): the seed and the
construction must never change (a test pins them).
"""

from __future__ import annotations

import functools

import numpy as np

SKETCH_DIM = 128
_SEED = 20261122


@functools.cache
def sketch_basis(dim: int) -> np.ndarray:
    """(dim, dim) float32 orthonormal matrix, the same on every machine."""
    rng = np.random.default_rng(_SEED + dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q *= np.sign(np.diag(r))  # the unique (Haar-distributed) QR factor
    q = q.astype(np.float32)
    q.setflags(write=False)
    return q


def to_sketch_basis(vectors: np.ndarray) -> np.ndarray:
    """Rotate (n, dim) unit rows into the sketch basis when dim > SKETCH_DIM."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] <= SKETCH_DIM or not len(vectors):
        return vectors
    rotated = vectors @ sketch_basis(vectors.shape[1])
    return rotated / np.maximum(np.linalg.norm(rotated, axis=1, keepdims=True), 1e-12)


def principal_axes(sample: np.ndarray) -> np.ndarray:
    """(dim, dim) orthonormal float64 matrix whose columns are the sample's
    principal axes (of the uncentred second moment: cosine geometry), most
    energy first. Signs are fixed (largest entry positive) so refits agree."""
    sample = np.asarray(sample, dtype=np.float64)
    moment = sample.T @ sample / max(1, len(sample))
    energy, axes = np.linalg.eigh(moment)
    axes = axes[:, np.argsort(energy)[::-1]]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    return axes * np.where(signs == 0, 1.0, signs)


def sketch_energy(vectors: np.ndarray) -> float:
    """Share of the rows' energy in their first SKETCH_DIM coordinates."""
    vectors = np.asarray(vectors, dtype=np.float64)
    total = float(np.square(vectors).sum())
    return float(np.square(vectors[:, :SKETCH_DIM]).sum()) / total if total else 0.0
