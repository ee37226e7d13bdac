"""Tests of theory.separable.separable_jko / SeparableJKO / RotatedProduct.

Oracles: the Gaussian closed form (theory.gaussian.jko_step, jko_map, kl, w2) for Gaussian
marginals under a Haar rotation, with two mutated references that must fail the same comparison;
exact identities of the rotated product (rotation invariance and equivariance, shared
trajectories, composition of the OT maps, the change of variables); Monte Carlo moments.
"""

import dataclasses

import numpy as np
import pytest
import torch

from tests.tolerances import (
    MC_SIGMAS,
    SEP_GAUSS_ERR_N200,
    SEP_HALVING_RATIO_MIN,
    SEP_ROUNDOFF_ATOL,
)
from theory import gaussian
from theory import separable as sep

GAMMAS = (0.5, 0.5, 0.5)
BIMODAL = sep.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6], name="bimodal")
SKEWED = sep.mixture([0.7, 0.3], [-0.6, 1.4], [0.5, 1.0], name="skewed")
STUDENT = sep.StudentT1D(5.0, scale=float(np.sqrt(0.6)))


def gaussian_data(d, seed):
    """Rotated product of N(m_i, s_i²) with distinct m_i, s_i; returns (data, mean, cov)."""
    means = np.linspace(-1.5, 2.0, d)
    sds = np.geomspace(0.5, 2.0, d)
    rot = sep.random_rotation(d, np.random.default_rng(seed))
    data = sep.RotatedProduct(tuple(sep.mixture([1.0], [m], [s]) for m, s in zip(means, sds,
                                                                                strict=True)),
                              rot)
    return data, rot @ means, rot @ np.diag(sds**2) @ rot.T


def node_moments(ref, n):
    """Mean and covariance of ρ_n from the quadrature moments of the nodes, rotated."""
    w = np.stack([g.w for g in ref.grids])
    mu = (w * ref.nodes[n]).sum(1)
    var = (w * (ref.nodes[n] - mu[:, None]) ** 2).sum(1)
    rot = ref.data.rotation
    return rot @ mu, rot @ np.diag(var) @ rot.T


def closed_form_errors(ref, mean, cov, gammas, rng, m=400):
    """Max over blocks of the errors against the Gaussian closed form (keys of the tolerance)."""
    err = dict.fromkeys(SEP_GAUSS_ERR_N200, 0.0)
    for n in range(len(gammas) + 1):
        mh, ch = node_moments(ref, n)
        k, w = gaussian.kl(mean, cov), gaussian.w2(mean, cov)
        y = rng.multivariate_normal(mean, cov, size=m)
        r = y - mean
        prec = np.linalg.inv(cov)
        lp = (-0.5 * np.einsum("ij,jk,ik->i", r, prec, r) - 0.5 * np.linalg.slogdet(cov)[1]
              - 0.5 * mean.size * np.log(2 * np.pi))
        new = {"mean": np.linalg.norm(mh - mean) / np.linalg.norm(mean),
               "cov": np.linalg.norm(ch - cov) / np.linalg.norm(cov),
               "kl": abs(ref.kl[n] - k) / k, "w2": abs(ref.w2_to_q[n] - w) / w,
               "logpdf": np.max(np.abs(ref.log_prob(n, y) - lp)),
               "score": np.max(np.linalg.norm(ref.score(n, y) + r @ prec, axis=1))}
        if n < len(gammas):
            tmap = gaussian.jko_map(mean, cov, gamma=gammas[n])
            t, ld = ref.transport(n + 1, y)
            new["map"] = np.max(np.linalg.norm(t - tmap(y), axis=1))
            new["logdet"] = np.max(np.abs(ld - np.linalg.slogdet(tmap.matrix)[1]))
            mean, cov = gaussian.jko_step(mean, cov, gamma=gammas[n])
        err = {key: max(v, float(new.get(key, 0.0))) for key, v in err.items()}
    return err


@pytest.fixture(scope="module")
def gauss_refs():
    """{(d, n_nodes): (ref, data, mean0, cov0)} for d = 2, 5 at 200 nodes and d = 2 at 100."""
    out = {}
    for d, n_nodes in ((2, 200), (5, 200), (2, 100)):
        data, m0, c0 = gaussian_data(d, seed=d)
        out[d, n_nodes] = (sep.separable_jko(data, GAMMAS, n_nodes=n_nodes), data, m0, c0)
    return out


@pytest.mark.parametrize("d", [2, 5])
def test_gaussian_marginals_match_the_closed_form(gauss_refs, d):
    ref, _, m0, c0 = gauss_refs[d, 200]
    err = closed_form_errors(ref, m0, c0, GAMMAS, np.random.default_rng(d))
    bad = {k: v for k, v in err.items() if v > SEP_GAUSS_ERR_N200[k]}
    assert not bad, bad
    assert ref.residuals.shape == (len(GAMMAS), d) and np.all(ref.residuals <= 1e-10)


def test_gaussian_errors_are_second_order(gauss_refs):
    coarse, fine = (closed_form_errors(gauss_refs[2, n][0], *gauss_refs[2, n][2:], GAMMAS,
                                       np.random.default_rng(0)) for n in (100, 200))
    ratios = {k: coarse[k] / fine[k] for k in coarse if k != "mean"}
    assert min(ratios.values()) >= SEP_HALVING_RATIO_MIN, ratios


def _transposed_rotation(ref):
    return dataclasses.replace(ref, data=sep.RotatedProduct(ref.data.marginals,
                                                            ref.data.rotation.T))


def _wrong_gamma_in_one_coordinate(ref):
    """Coordinate 0 takes its second step with γ = 0.8 instead of 0.5 (from block 2 on)."""
    alt = sep.separable_jko(ref.data, (0.5, 0.8, 0.5), n_nodes=ref.nodes.shape[2])
    nodes, klm = ref.nodes.copy(), ref.kl_marginal.copy()
    nodes[2:, 0], klm[2:, 0] = alt.nodes[2:, 0], alt.kl_marginal[2:, 0]
    return dataclasses.replace(ref, nodes=nodes, kl_marginal=klm)


@pytest.mark.parametrize("mutate, must_fail", [
    (_transposed_rotation, ("mean", "cov", "logpdf", "score", "map")),
    (_wrong_gamma_in_one_coordinate, ("mean", "cov", "kl", "w2", "logpdf", "map")),
])
def test_a_mutated_reference_fails_the_closed_form_comparison(gauss_refs, mutate, must_fail):
    ref, _, m0, c0 = gauss_refs[2, 200]
    err = closed_form_errors(mutate(ref), m0, c0, GAMMAS, np.random.default_rng(2))
    passed = [k for k in must_fail if err[k] <= SEP_GAUSS_ERR_N200[k]]
    assert not passed, (passed, err)


@pytest.fixture(scope="module")
def mixed_pair():
    """The same non-Gaussian marginals under two rotations R_a and R_b (d = 3, 120 nodes)."""
    rng = np.random.default_rng(11)
    ms = (BIMODAL, SKEWED, STUDENT)
    ra, rb = sep.random_rotation(3, rng), sep.random_rotation(3, rng)
    return tuple(sep.separable_jko(sep.RotatedProduct(ms, r), GAMMAS, n_nodes=120)
                 for r in (ra, rb))


def test_kl_and_w2_do_not_depend_on_the_rotation(mixed_pair):
    a, b = mixed_pair
    assert not np.allclose(a.data.rotation, b.data.rotation)
    np.testing.assert_array_equal(a.kl, b.kl)
    np.testing.assert_array_equal(a.w2_to_q, b.w2_to_q)
    np.testing.assert_array_equal(a.w2_steps, b.w2_steps)
    assert np.all(np.diff(a.kl) < 0) and np.all(np.diff(a.w2_to_q) < 0)


def test_density_score_and_map_are_equivariant_under_the_rotation(mixed_pair, rng):
    a, b = mixed_pair
    q = b.data.rotation @ a.data.rotation.T  # y in a's frame <-> q y in b's frame
    for n in range(len(GAMMAS) + 1):
        y = a.sample(n, 300, rng)
        np.testing.assert_allclose(b.log_prob(n, y @ q.T), a.log_prob(n, y), rtol=0,
                                   atol=SEP_ROUNDOFF_ATOL)
        np.testing.assert_allclose(b.score(n, y @ q.T), a.score(n, y) @ q.T, rtol=0,
                                   atol=SEP_ROUNDOFF_ATOL)
        if n >= 1:
            x = a.sample(n - 1, 300, rng)
            ta, la = a.transport(n, x)
            tb, lb = b.transport(n, x @ q.T)
            np.testing.assert_allclose(tb, ta @ q.T, rtol=0, atol=SEP_ROUNDOFF_ATOL)
            np.testing.assert_allclose(lb, la, rtol=0, atol=SEP_ROUNDOFF_ATOL)


def test_log_prob_at_block_zero_is_the_data_density(mixed_pair, rng):
    a, _ = mixed_pair
    y = a.data.sample(500, rng)
    lp = a.data.log_pdf(y)
    tl = a.data.log_prob(torch.as_tensor(y, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(tl, lp, rtol=SEP_ROUNDOFF_ATOL, atol=SEP_ROUNDOFF_ATOL)
    # the spline of the exact quantile nodes (third order; 120 nodes: mean error ~1e-5 nats)
    assert np.mean(np.abs(a.log_prob(0, y) - lp)) < 1e-3


def test_identical_marginals_share_one_trajectory():
    rot = sep.random_rotation(3, np.random.default_rng(4))
    ref = sep.separable_jko(sep.RotatedProduct((BIMODAL, SKEWED, BIMODAL), rot), GAMMAS,
                            n_nodes=80)
    np.testing.assert_array_equal(ref.nodes[:, 0], ref.nodes[:, 2])
    np.testing.assert_array_equal(ref.kl_marginal[:, 0], ref.kl_marginal[:, 2])
    assert all(row[0] is row[2] for row in ref.splines)
    assert not np.array_equal(ref.nodes[:, 0], ref.nodes[:, 1])
    # an equal law in a distinct object gives the same numbers
    twin = sep.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6])
    ref2 = sep.separable_jko(sep.RotatedProduct((BIMODAL, SKEWED, twin), rot), GAMMAS,
                             n_nodes=80)
    np.testing.assert_allclose(ref2.nodes, ref.nodes, rtol=0, atol=SEP_ROUNDOFF_ATOL)


def test_push_is_the_composition_of_the_block_maps(mixed_pair, rng):
    a, _ = mixed_pair
    x0 = a.data.sample(400, rng)
    x, logdet = x0, np.zeros(x0.shape[0])
    for n in range(1, len(GAMMAS) + 1):
        x, ld = a.transport(n, x)
        logdet += ld
        np.testing.assert_allclose(a.push(x0, n), x, rtol=0, atol=SEP_ROUNDOFF_ATOL)
        # change of variables: log ρ_n(T x) = log ρ_0(x) − log det ∇T(x)
        np.testing.assert_allclose(a.log_prob(n, x), a.log_prob(0, x0) - logdet, rtol=0,
                                   atol=SEP_ROUNDOFF_ATOL)
    np.testing.assert_allclose(a.push(x0, 0), x0, rtol=0, atol=SEP_ROUNDOFF_ATOL)


def _z_scores(u, mean, cov):
    m = u.shape[0]
    zm = (u.mean(0) - mean) / (u.std(0, ddof=1) / np.sqrt(m))
    r = u - mean
    prod = r[:, :, None] * r[:, None, :]
    zc = (prod.mean(0) - cov) / (prod.std(0, ddof=1) / np.sqrt(m))
    return max(np.max(np.abs(zm)), np.max(np.abs(zc)))


def test_samples_have_the_moments_of_the_nodes_and_of_the_data(mixed_pair, rng):
    a, _ = mixed_pair
    for n in range(len(GAMMAS) + 1):
        mh, ch = node_moments(a, n)
        assert _z_scores(a.sample(n, 20000, rng), mh, ch) <= MC_SIGMAS
    mu = np.array([0.0, 0.7 * -0.6 + 0.3 * 1.4, 0.0])
    var = np.array([m.m2 for m in a.data.marginals]) - mu**2
    rot = a.data.rotation
    assert _z_scores(a.data.sample(20000, rng), rot @ mu, rot @ np.diag(var) @ rot.T) <= MC_SIGMAS


def test_w2_steps_are_the_displacements_of_the_maps(mixed_pair, rng):
    a, _ = mixed_pair
    for n in range(1, len(GAMMAS) + 1):
        x = a.sample(n - 1, 20000, rng)
        sq = np.sum((a.transport(n, x)[0] - x) ** 2, axis=1)  # E|T_n x − x|² = W2²
        se = sq.std(ddof=1) / np.sqrt(sq.size)
        assert abs(sq.mean() - a.w2_steps[n - 1] ** 2) <= MC_SIGMAS * se


@pytest.fixture(scope="module")
def small_ref():
    return sep.separable_jko(sep.RotatedProduct((SKEWED, STUDENT), np.eye(2)), (0.5, 0.5),
                             n_nodes=40)


_ROT = np.array([[0.0, -1.0], [1.0, 0.0]])


@pytest.mark.parametrize("call, arg", [
    (lambda r: sep.RotatedProduct((SKEWED, STUDENT), np.eye(2) * 1.01), "rotation"),
    (lambda r: sep.RotatedProduct((SKEWED, STUDENT), np.eye(3)), "rotation"),
    (lambda r: sep.RotatedProduct((SKEWED, STUDENT), np.array([[1.0, 0.1], [0.0, 1.0]])),
     "rotation"),
    (lambda r: sep.RotatedProduct((SKEWED, STUDENT), _ROT * np.nan), "rotation"),
    (lambda r: sep.RotatedProduct((), np.eye(0)), "marginals"),
    (lambda r: sep.RotatedProduct((1.0, 2.0), np.eye(2)), "marginals"),
    (lambda r: sep.RotatedProduct((SKEWED, STUDENT), _ROT).sample(0, np.random.default_rng()),
     "n"),
    (lambda r: sep.random_rotation(0, np.random.default_rng()), "d"),
    (lambda r: sep.separable_jko(r.data, (0.5, -0.1)), "gammas"),
    (lambda r: sep.separable_jko(r.data, (0.5, 0.0)), "gammas"),
    (lambda r: sep.separable_jko(r.data, (np.nan,)), "gammas"),
    (lambda r: sep.separable_jko(r.data, (0.5,), n_nodes=10), "n_nodes"),
    (lambda r: sep.separable_jko(r.data, (0.5,), zmax=0.0), "zmax"),
    (lambda r: sep.separable_jko(object(), (0.5,)), "data"),
    (lambda r: r.log_prob(-1, np.zeros((3, 2))), "n"),
    (lambda r: r.log_prob(3, np.zeros((3, 2))), "n"),
    (lambda r: r.score(3, np.zeros((3, 2))), "n"),
    (lambda r: r.sample(3, 10, np.random.default_rng()), "n"),
    (lambda r: r.sample(1, 0, np.random.default_rng()), "m"),
    (lambda r: r.transport(0, np.zeros((3, 2))), "n"),
    (lambda r: r.transport(3, np.zeros((3, 2))), "n"),
    (lambda r: r.push(np.zeros((3, 2)), 3), "n"),
    (lambda r: r.log_prob(1, np.zeros(2)), "y"),
    (lambda r: r.log_prob(1, np.zeros((3, 3))), "y"),
    (lambda r: r.score(1, np.zeros((3, 1))), "y"),
])
def test_bad_input_raises_value_error_naming_the_argument(small_ref, call, arg):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        call(small_ref)


@pytest.mark.parametrize("call, arg", [
    (lambda r: r.transport(1, np.zeros((3, 3))), "x"),
    (lambda r: r.push(np.zeros(2), 1), "x0"),
])
def test_bad_points_of_transport_and_push_name_their_argument(small_ref, call, arg):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        call(small_ref)


@pytest.mark.parametrize("gammas", [(), ((0.5, 0.5),)])
def test_malformed_gammas_raise_value_error_naming_gammas(small_ref, gammas):
    with pytest.raises(ValueError, match=r"\bgammas\b"):
        sep.separable_jko(small_ref.data, gammas)
