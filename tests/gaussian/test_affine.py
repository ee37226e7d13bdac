"""Tests of theory.gaussian affine maps: composition, inverse, Gaussian push-forward, L² distance,
and the reverse pass of approximate inverses (compose_inverse, lip_prefixes).

Oracles: pointwise evaluation on random points, sample statistics (fixed seeds, 5-sigma bands),
Monte Carlo L² norms, numpy SVD / det.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies as S
from tests.tolerances import (
    AFFINE_LIP_RTOL,
    AFFINE_RTOL,
    MC_SIGMAS,
    ROUTE_RTOL,
)
from theory.gaussian import AffineMap, compose_inverse, lip_prefixes


@st.composite
def affine_maps(draw, d: int):
    """Invertible affine maps: rotation @ SPD (condition <= 1e2) plus an offset."""
    a = S.rotation(d, draw(S.seeds)) @ draw(S.spd_matrices(d=d, cond_max=1e2))
    return AffineMap(a, draw(S.means(d)))


@given(d=S.dims(1, 10), data=st.data())
def test_inverse_and_composition_are_identity(d, data):
    f = data.draw(affine_maps(d))
    x = np.random.default_rng(data.draw(S.seeds)).standard_normal((5, d))
    tol = AFFINE_RTOL * (1 + np.abs(x).max() + np.abs(f.offset).max()) * np.linalg.cond(f.matrix)
    np.testing.assert_allclose(f.inverse()(f(x)), x, atol=tol)
    np.testing.assert_allclose(f(f.inverse()(x)), x, atol=tol * f.lipschitz())
    ident = f.then(f.inverse())
    np.testing.assert_allclose(ident.matrix, np.eye(d),
                               atol=AFFINE_RTOL * np.linalg.cond(f.matrix))


@given(d=S.dims(1, 6), data=st.data())
def test_then_applies_self_first(d, data):
    f, g = data.draw(affine_maps(d)), data.draw(affine_maps(d))
    x = np.random.default_rng(0).standard_normal((4, d))
    y = g(f(x))
    np.testing.assert_allclose(f.then(g)(x), y, atol=AFFINE_RTOL * (1 + np.abs(y).max()))


@pytest.mark.parametrize("seed", [0, 1])
def test_push_matches_sample_statistics(seed):
    """Oracle: transform samples and compare mean (5-sigma) and covariance (5 standard errors of
    each entry, computed from the Wishart variance (Σ_ij² + Σ_ii Σ_jj)/n)."""
    rng = np.random.default_rng(seed)
    d, n = 3, 200_000
    f = AffineMap(rng.standard_normal((d, d)), rng.standard_normal(d))
    m, c = rng.standard_normal(d), S.spd_from_eigs(np.array([0.2, 1.0, 3.0]), seed)
    mu, sig = f.push(m, c)
    y = f(rng.multivariate_normal(m, c, n))
    se_m = np.sqrt(np.diag(sig) / n)
    assert np.all(np.abs(y.mean(axis=0) - mu) <= MC_SIGMAS * se_m)
    se_c = np.sqrt((sig**2 + np.outer(np.diag(sig), np.diag(sig))) / n)
    assert np.all(np.abs(np.cov(y.T) - sig) <= MC_SIGMAS * se_c)


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_distance_matches_monte_carlo(seed):
    """Oracle: sqrt(mean |f(x) - g(x)|²) over samples x ~ N(m, Σ); 5-sigma band on the square."""
    rng = np.random.default_rng(seed)
    d, n = 3, 200_000
    f = AffineMap(rng.standard_normal((d, d)), rng.standard_normal(d))
    g = AffineMap(rng.standard_normal((d, d)), rng.standard_normal(d))
    m, c = rng.standard_normal(d), S.spd_from_eigs(np.array([0.5, 1.0, 2.0]), seed)
    x = rng.multivariate_normal(m, c, n)
    sq = np.sum((f(x) - g(x)) ** 2, axis=1)
    se = sq.std(ddof=1) / np.sqrt(n)
    assert abs(f.l2_distance(g, m, c) ** 2 - sq.mean()) <= MC_SIGMAS * se
    assert f.l2_distance(f, m, c) == 0.0


@given(d=S.dims(1, 8), data=st.data())
def test_lipschitz_and_log_det(d, data):
    f = data.draw(affine_maps(d))
    assert f.lipschitz() == pytest.approx(np.linalg.svd(f.matrix, compute_uv=False)[0],
                                          rel=AFFINE_LIP_RTOL)
    assert f.log_abs_det() == pytest.approx(np.log(abs(np.linalg.det(f.matrix))), rel=ROUTE_RTOL,
                                            abs=ROUTE_RTOL)


def test_from_centered_and_identity():
    a = np.array([[2.0, 0.0], [1.0, 3.0]])
    f = AffineMap.from_centered(a, [1.0, 1.0], [5.0, -1.0])
    np.testing.assert_allclose(f([1.0, 1.0]), [5.0, -1.0])
    np.testing.assert_allclose(f([2.0, 1.0]), [7.0, 0.0])
    i = AffineMap.identity(3)
    np.testing.assert_array_equal(i(np.arange(3.0)), np.arange(3.0))
    assert i.d == 3


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: AffineMap(np.ones((2, 3)), np.zeros(2)), "matrix"),
        (lambda: AffineMap(np.eye(2), np.zeros(3)), "offset"),
        (lambda: AffineMap(np.array([[np.nan, 0.0], [0.0, 1.0]]), np.zeros(2)), "matrix"),
        (lambda: AffineMap(np.eye(2), np.array([np.inf, 0.0])), "offset"),
        (lambda: AffineMap(np.diag([1.0, 0.0]), np.zeros(2)).inverse(), "singular"),
        (lambda: AffineMap.identity(2).push(np.zeros(3), np.eye(2)), "mean"),
    ],
)
def test_bad_inputs(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_float64_preserved():
    f = AffineMap(np.eye(2, dtype=np.float32), np.zeros(2, dtype=np.int64))
    assert f.matrix.dtype == np.float64 and f.offset.dtype == np.float64
    assert f(np.array([1, 2])).dtype == np.float64


def test_compose_inverse_and_lip_prefixes_match_matrix_products():
    """Oracle: S = S_1∘…∘S_N has matrix A_1⋯A_N and S(0) = S_1(…S_N(0)); the prefix Lipschitz
    constants are spectral norms of A_1⋯A_{n−1}."""
    rng = np.random.default_rng(4)
    maps = [AffineMap(np.eye(3) + 0.3 * rng.standard_normal((3, 3)), rng.standard_normal(3))
            for _ in range(4)]
    s = compose_inverse(maps)
    prod = np.linalg.multi_dot([f.matrix for f in maps])
    x0 = np.zeros(3)
    for f in reversed(maps):
        x0 = f.matrix @ x0 + f.offset
    np.testing.assert_allclose(s.matrix, prod, atol=AFFINE_RTOL * np.abs(prod).max())
    np.testing.assert_allclose(s.offset, x0, atol=AFFINE_RTOL * (1 + np.abs(x0).max()))
    want = [1.0] + [np.linalg.norm(np.linalg.multi_dot([np.eye(3)] + [f.matrix for f in
                                                                      maps[:k]]), 2)
                    for k in range(1, 4)]
    np.testing.assert_allclose(lip_prefixes(maps), want, rtol=AFFINE_LIP_RTOL)
    with pytest.raises(ValueError, match="s_list"):
        compose_inverse([])
    with pytest.raises(ValueError, match="s_list"):
        lip_prefixes([])
