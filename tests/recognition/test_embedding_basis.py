"""Wide embeddings leave the engines in a fixed random basis (search indexes
their first 128 coordinates); narrow ones are untouched."""

import numpy as np
import pytest

from recognition.engines.basis import SKETCH_DIM, sketch_basis, to_sketch_basis


def _unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_basis_is_orthonormal_and_pinned():
    basis = sketch_basis(512)
    assert basis.shape == (512, 512) and basis.dtype == np.float32
    assert np.abs(basis @ basis.T - np.eye(512)).max() < 1e-5
    # Stored embeddings are in this basis: it must never change.
    assert basis[0, :3] == pytest.approx([-0.00308371, -0.12159572, 0.10289484], abs=1e-6)
    assert not basis.flags.writeable


def test_rotation_keeps_every_cosine():
    vectors = _unit_rows(20, 512)
    rotated = to_sketch_basis(vectors)
    assert np.abs(rotated @ rotated.T - vectors @ vectors.T).max() < 1e-5
    assert np.allclose(np.linalg.norm(rotated, axis=1), 1.0, atol=1e-6)


def test_sketch_cosine_tracks_the_full_cosine_even_for_a_skewed_model():
    """A model that puts all identity information in its last coordinates
    would leave a plain prefix blind; in the sketch basis it is not."""
    rng = np.random.default_rng(1)
    base = np.zeros((200, 512), np.float32)
    base[:, SKETCH_DIM:] = rng.standard_normal((200, 512 - SKETCH_DIM))
    noisy = base + 0.6 * base.std() * rng.standard_normal(base.shape).astype(np.float32)
    a = to_sketch_basis(base / np.linalg.norm(base, axis=1, keepdims=True))
    b = to_sketch_basis(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    full = np.einsum("ij,ij->i", a, b)

    def cos(x, y):
        return np.einsum("ij,ij->i", x, y) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)

    sketch = cos(a[:, :SKETCH_DIM], b[:, :SKETCH_DIM])
    assert np.abs(sketch - full).mean() < 0.1
    assert np.abs(sketch - full).max() < 0.25


def test_128_d_embeddings_are_left_as_they_are():
    vectors = _unit_rows(5, 128)
    assert np.array_equal(to_sketch_basis(vectors), vectors)
    assert to_sketch_basis(np.zeros((0, 512), np.float32)).shape == (0, 512)


def test_principal_axes_put_the_most_energy_first_with_fixed_signs():
    from recognition.engines.basis import principal_axes, sketch_energy

    rng = np.random.default_rng(4)
    # Faces spread along three known directions with falling weight, plus noise.
    directions = np.linalg.qr(rng.standard_normal((512, 3)))[0]
    rows = rng.standard_normal((2000, 3)) * [3.0, 2.0, 1.0] @ directions.T
    rows += 0.01 * rng.standard_normal((2000, 512))
    axes = principal_axes(rows)
    assert axes.T @ axes == pytest.approx(np.eye(512), abs=1e-9)
    for i in range(3):
        assert abs(float(axes[:, i] @ directions[:, i])) > 0.99
    # The largest entry of every axis is positive: two fits of the same faces agree.
    assert (axes[np.abs(axes).argmax(axis=0), np.arange(512)] > 0).all()
    assert principal_axes(rows) == pytest.approx(axes)
    assert sketch_energy(rows @ axes) > 0.99 > 0.5 > sketch_energy(to_sketch_basis(rows))
