"""experiments/neural_digits.py: a tiny real run, and its data and density conventions.

The tiny run (2 blocks of 5 iterations, seconds) checks the record, that its k = 0 NLL is the
NLL of N(0, I) in z-space computed independently (scipy, in the dequantised space), and that the
figure renders; the other tests check the data law and the change-of-variables bookkeeping
(NLL_x = NLL_z − log|det W|, discrete-pixel bits/dim = bits/dim + log₂17) without training.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats

from experiments import _io
from experiments import neural_digits as nd
from tests.tolerances import (
    DIGITS_NLL_ROUNDOFF_ATOL,
    DIGITS_WHITEN_ATOL,
    MC_SIGMAS,
    ROUNDOFF_RTOL,
)
from theory.flow import JKOFlow

TINY = nd.Config(flow=replace(nd.FLOW, n_blocks=2, iters=5, batch=64, hidden=(32, 32),
                              n_train=500),
                 n_eval=100, n_routes=20, check_steps=12, n_show=6)


@pytest.fixture(scope="module")
def tiny():
    return json.loads(json.dumps(_io.to_jsonable(nd.run(TINY))))


def test_tiny_run_record(tiny, tmp_path):
    for key in ("nll_test", "nll_train", "bpd_test", "gauss_nll_test", "gauss_minus_flow",
                "inv_rms", "inv_rms_pixels", "routes_max", "routes_max_fine", "generated",
                "diagnostics", "nll_k0_test", "log_det_w"):
        assert key in tiny, key
    assert not _io.find_nonfinite(tiny, "results")
    n_blocks = TINY.flow.n_blocks
    for part in ("nll_test", "nll_train"):
        assert len(tiny[part]["mean"]) == len(tiny[part]["se"]) == n_blocks + 1
        assert len(tiny[part]["diff_se"]) == n_blocks
    assert (tiny["n_train_images"], tiny["n_test_images"]) == (1500, 297)
    assert np.asarray(tiny["generated"]).shape == (TINY.n_show, 64)
    assert np.all((np.asarray(tiny["generated"]) >= 0) & (np.asarray(tiny["generated"]) <= 1))
    assert tiny["bpd_test"][-1] == pytest.approx(
        tiny["nll_test"]["mean"][-1] / (64 * math.log(2)), rel=ROUNDOFF_RTOL)
    nd.plot(tiny, tmp_path / "digits.png")
    assert (tmp_path / "digits.png").stat().st_size > 10_000
    rows = nd.checks(tiny)
    assert {c.claim for c in rows} <= set(nd.CLAIMS)
    # two blocks of 5 iterations are enough for the numerical rows (not for the NLL rows)
    assert all(c.passed for c in rows if c.kind in ("ratio", "equality")), rows


def test_tiny_k0_nll_is_the_ml_gaussian_by_scipy(tiny):
    """k = 0 with whitening: N(0, I) in z-space is N(μ, Σ) in x-space (independent scipy NLL)."""
    prep = nd.prepare(TINY)
    ref = -stats.multivariate_normal(prep.law.mu, prep.cov).logpdf(prep.x_test)
    got = np.asarray(tiny["nll_k0_test"])
    assert np.max(np.abs(got - ref)) <= DIGITS_NLL_ROUNDOFF_ATOL
    assert tiny["nll_test"]["mean"][0] == pytest.approx(ref.mean(), abs=DIGITS_NLL_ROUNDOFF_ATOL)
    assert tiny["gauss_nll_test"][0] == pytest.approx(ref.mean(), abs=DIGITS_NLL_ROUNDOFF_ATOL)


@pytest.mark.parametrize("whiten", [False, True])
def test_k0_nll_change_of_variables(whiten):
    """NLL_x = NLL_z − log|det W| with an empty flow, against scipy's density of μ + N(0,I)W⁻¹."""
    cfg = replace(TINY, whiten=whiten)
    prep = nd.prepare(cfg)
    z = torch.as_tensor(prep.law.scale(prep.x_test))
    got = nd._nll_per_block(JKOFlow(), z, 6, prep.log_det_w)[0]
    cov = prep.cov if whiten else np.eye(64) * np.trace(prep.cov) / 64
    w_inv = np.linalg.inv(prep.law.w)
    assert np.max(np.abs(w_inv.T @ w_inv - cov)) <= DIGITS_WHITEN_ATOL
    ref = -stats.multivariate_normal(prep.law.mu, cov).logpdf(prep.x_test)
    assert np.max(np.abs(got - ref)) <= DIGITS_NLL_ROUNDOFF_ATOL
    # pixel scale y = 17x: bits/dim shift by log2(17) (scipy density of 17·x)
    ref_y = -stats.multivariate_normal(17 * prep.law.mu, 17**2 * cov).logpdf(17 * prep.x_test)
    assert nd.bits_per_dim(ref_y.mean()) == pytest.approx(
        nd.bits_per_dim(got.mean()) + nd.LOG2_LEVELS, abs=DIGITS_NLL_ROUNDOFF_ATOL)


def test_training_law_moments_and_range():
    prep = nd.prepare(TINY)
    law = prep.law
    z = law.sample(20_000, np.random.default_rng(3))
    assert z.shape == (20_000, 64) and z.dtype == np.float64
    x = law.unscale(z)
    # every row is (p + u)/17 of a training image p, u in [0, 1)^64 (W round trip: round-off)
    p = np.round(17 * x - 0.5)
    u = 17 * x - p
    assert np.all((u >= -DIGITS_WHITEN_ATOL) & (u <= 1 + DIGITS_WHITEN_ATOL))
    train = {tuple(row) for row in law.pixels}
    assert all(tuple(row) in train for row in p[:2000])
    # z has mean 0 and covariance I (whitened) up to Monte Carlo error (empirical SEs)
    n = z.shape[0]
    assert np.all(np.abs(z.mean(0)) <= MC_SIGMAS * z.std(0) / math.sqrt(n))
    second = z.T @ z / n  # E z_i z_j
    se = np.sqrt(((z**2).T @ z**2 / n - second**2) / n)  # sd(z_i z_j)/√n
    assert np.all(np.abs(second - np.eye(64)) <= MC_SIGMAS * se)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="n_train_images"):
        nd.Config(n_train_images=1797)
    with pytest.raises(ValueError, match="check_steps"):
        nd.Config(check_steps=6)
    with pytest.raises(ValueError, match="flow.d"):
        nd.Config(flow=replace(nd.FLOW, d=2))
    with pytest.raises(ValueError, match="n must"):
        nd.prepare(TINY).law.sample(0, np.random.default_rng(0))


def test_cases_one_training_run_reduced_unchanged(tiny):
    """One case (the single training run, keyed ``digits``); the reduction returns its value."""
    assert [c.key for c in nd.cases(nd.Config.full())] == ["digits"]
    assert nd.reduce(TINY, {"digits": tiny}) is tiny
