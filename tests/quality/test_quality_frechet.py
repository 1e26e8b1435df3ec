"""Fréchet distance: the closed forms a user relies on when reading the numbers."""

from __future__ import annotations

import numpy as np
import pytest

from diff2in1.quality.frechet import frechet_distance


def _random_covariance(dim: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(dim, 2 * dim))
    return a @ a.T / (2 * dim)


def test_identical_statistics_give_zero() -> None:
    mu, sigma = np.arange(8.0), _random_covariance(8, 0)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-6)


def test_one_dimensional_gaussians() -> None:
    # N(1, 2^2) vs N(4, 3^2): (1 - 4)^2 + (2 - 3)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([4.0]), np.array([[9.0]])) == pytest.approx(10.0)


def test_diagonal_covariances_add_up_per_dimension() -> None:
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2 + (np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected)


def test_shifted_and_scaled_gaussians() -> None:
    sigma = _random_covariance(16, 1)
    mu = np.random.default_rng(2).normal(size=16)
    shift = np.linspace(-1, 1, 16)
    # Same covariance: only the mean shift counts.
    assert frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(shift @ shift, rel=1e-6)
    # Covariance scaled by c^2: tr(S) (1 - c)^2.
    assert frechet_distance(mu, sigma, mu, 9 * sigma) == pytest.approx(4 * np.trace(sigma), rel=1e-6)


def test_rank_deficient_covariances_stay_finite() -> None:
    x = np.random.default_rng(3).normal(size=(5, 10))  # fewer samples than dimensions
    sigma = np.cov(x, rowvar=False)
    value = frechet_distance(x.mean(0), sigma, x.mean(0) + 1, sigma)
    assert np.isfinite(value) and value == pytest.approx(10.0, abs=1e-2)


def test_mismatched_shapes_are_an_error() -> None:
    with pytest.raises(ValueError, match="must be"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
