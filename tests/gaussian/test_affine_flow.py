"""theory.gaussian affine flows: generation identities (C9) vs independent computations."""

import numpy as np
import pytest

from tests.tolerances import (
    AFFINE_MEAN_ATOL,
    AFFINE_RTOL,
    KL_PUSHED_RTOL,
    MC_COV_RTOL,
    MC_SIGMAS,
    STEP_ROUNDOFF_RTOL,
    TINY_W2_REACHED,
)
from theory import gaussian
from theory.gaussian import build_affine_flow, inexact_trajectory


def _data(rng, d):
    a = rng.standard_normal((d, d))
    return rng.standard_normal(d) * 2, a @ a.T + 0.5 * np.eye(d)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_blocks_push_marginals(rng, d):
    m0, s0 = _data(rng, d)
    flow = build_affine_flow(m0, s0, gammas=[0.5, 1.0, 2.0])
    for n, t in enumerate(flow.blocks, 1):
        m, s = t.push(flow.means[n - 1], flow.covs[n - 1])
        np.testing.assert_allclose(m, flow.means[n], atol=AFFINE_MEAN_ATOL)
        np.testing.assert_allclose(s, flow.covs[n], atol=AFFINE_RTOL * np.abs(s).max())
        # each block is a symmetric PD linear part: a Brenier (OT) map
        np.testing.assert_allclose(t.matrix, t.matrix.T, atol=AFFINE_MEAN_ATOL)
        assert np.linalg.eigvalsh(t.matrix).min() > 0


@pytest.mark.parametrize("d", [1, 3])
def test_generated_law_by_sampling(rng, d):
    """q̂ = F^{-1}_# N(0,I): push noise samples backward and compare moments (5 sd)."""
    m0, s0 = _data(rng, d)
    flow = build_affine_flow(m0, s0, gammas=np.full(4, 0.7))
    mq, cq = flow.generated_law()
    z = rng.standard_normal((200_000, d))
    x = flow.forward_map().inverse()(z)
    se = np.sqrt(np.diag(cq) / z.shape[0])
    assert np.all(np.abs(x.mean(0) - mq) < MC_SIGMAS * se)
    np.testing.assert_allclose(np.cov(x.T).reshape(d, d), cq, rtol=MC_COV_RTOL, atol=MC_COV_RTOL)


def test_kl_generated_equals_kl_forward_with_inexact_blocks(rng):
    """C9: KL(P‖q̂) from q̂ itself = KL(ρ_N‖q) (KL invariant under the common bijection F)."""
    m0, s0 = _data(rng, 3)
    tr = inexact_trajectory(m0, s0, gamma=0.5, eps=0.05, n_steps=12, kind="mixed", seed=3)
    flow = build_affine_flow(m0, s0, gammas=np.full(12, 0.5),
                      step=lambda mu, sig, k: (tr.means[k], tr.covs[k]))
    a, b = flow.kl_generated(), flow.kl_forward()
    assert a == pytest.approx(b, rel=KL_PUSHED_RTOL)
    assert b == pytest.approx(gaussian.kl(tr.means[-1], tr.covs[-1]), rel=STEP_ROUNDOFF_RTOL)


def test_many_exact_blocks_generate_data_law(rng):
    """With many exact blocks ρ_N → q, so q̂ → P."""
    m0, s0 = _data(rng, 2)
    flow = build_affine_flow(m0, s0, gammas=np.full(60, 1.0))
    mq, cq = flow.generated_law()
    assert gaussian.w2(m0, s0, mq, cq) < TINY_W2_REACHED


def test_singular_data_rejected():
    with pytest.raises(ValueError, match="cov must be positive definite"):
        build_affine_flow(np.zeros(2), np.diag([1.0, 0.0]), gammas=[1.0])
