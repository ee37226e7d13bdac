"""Property tests of the flow-level claims on random Gaussian cases: C11 (inversion errors),
C14 (forward-backward contraction), C10 (singular start gap), C8/C9 (generation identity)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import gammas, log_uniform, means, seeds, spd_matrices
from tests.tolerances import (
    CHAIN_ATOL,
    CHAIN_RTOL,
    FB_FIXED_POINT_ATOL,
    INEQ_ATOL,
    KL_INEQ_RTOL,
    KL_PUSHED_ATOL,
    KL_PUSHED_LONG_RTOL,
)
from theory import bounds, gaussian
from theory.gaussian import (
    AffineMap,
    build_affine_flow,
    fb_fixed_point,
    fb_step,
    inexact_trajectory,
)


@given(d=st.integers(1, 6), seed=seeds, n=st.integers(1, 8), delta=log_uniform(1e-8, 0.3),
       gamma=gammas(0.05, 5.0), data=st.data())
def test_c11_inversion_chain(d, seed, n, delta, gamma, data):
    """W2(P,(S∘T)_#P) ≤ ‖S∘T − Id‖ ≤ Σ_n Lip(S_1∘…∘S_{n−1}) δ_n for random affine S_n."""
    rng = np.random.default_rng(seed)
    cov = data.draw(spd_matrices(d=d, cond_max=1e3))
    m0 = data.draw(means(d))
    flow = build_affine_flow(m0, cov, gammas=np.full(n, gamma))
    s_list, dn = [], []
    for k, t in enumerate(flow.blocks, 1):
        inv = t.inverse()
        e = rng.standard_normal((d, d))
        s = AffineMap(inv.matrix + delta * e / np.linalg.norm(e),
                      inv.offset + delta * rng.standard_normal(d))
        s_list.append(s)
        dn.append(t.then(s).l2_distance(AffineMap.identity(d), flow.means[k - 1],
                                        flow.covs[k - 1]))
    big_s, lips, pref = AffineMap.identity(d), [1.0], AffineMap.identity(d)
    for s in reversed(s_list):
        big_s = big_s.then(s)
    for s in s_list[:-1]:
        pref = s.then(pref)
        lips.append(pref.lipschitz())
    u = flow.forward_map().then(big_s)
    mu, cu = u.push(m0, cov)
    w2 = gaussian.w2(m0, cov, mu, cu)
    l2 = u.l2_distance(AffineMap.identity(d), m0, cov)
    tele = bounds.inversion_telescoping(np.array(lips), np.array(dn))
    assert w2 <= l2 * (1 + CHAIN_RTOL) + CHAIN_ATOL
    assert l2 <= tele * (1 + CHAIN_RTOL) + CHAIN_ATOL


@given(d=st.integers(1, 5), seed=seeds, frac=st.floats(0.02, 0.98), data=st.data())
def test_c14_fb_contracts_toward_its_fixed_point(d, seed, frac, data):
    """W2(FB(ρ), q*_γ) ≤ max_i|1−γq_i|·W2(ρ, q*_γ); q*_γ = q iff γ ≤ 1/λmax(Q)."""
    c = data.draw(spd_matrices(d=d, cond_max=1e2))
    cov = data.draw(spd_matrices(d=d, cond_max=1e3))
    rng = np.random.default_rng(seed)
    b, m = rng.standard_normal(d), data.draw(means(d))
    q_eigs = 1.0 / np.linalg.eigvalsh(c)
    gamma = frac * 2.0 / q_eigs.max()
    kappa = np.abs(1 - gamma * q_eigs).max()
    bs, cs = fb_fixed_point(gamma=gamma, target_mean=b, target_cov=c)
    w = gaussian.w2(m, cov, bs, cs)
    m1, s1 = fb_step(m, cov, gamma=gamma, target_mean=b, target_cov=c)
    assert gaussian.w2(m1, s1, bs, cs) <= kappa * w * (1 + KL_INEQ_RTOL) + INEQ_ATOL
    if gamma * q_eigs.max() <= 1.0:
        assert gaussian.w2(bs, cs, b, c) <= FB_FIXED_POINT_ATOL * (1 + np.abs(c).max())


@given(d=st.integers(2, 6), seed=seeds, gamma=gammas(0.05, 5.0), eps=log_uniform(1e-5, 0.2),
       kind=st.sampled_from(["mean", "map", "mixed"]), data=st.data())
def test_c8_c9_generation_and_guarantee(d, seed, gamma, eps, kind, data):
    """With N(ε) inexact blocks: KL(P‖q̂) (from q̂) = KL(ρ_N‖q) ≤ C(γ,1)ε²."""
    cov = data.draw(spd_matrices(d=d, cond_max=1e2))
    m0 = data.draw(means(d, scale_max=5.0))
    w0 = gaussian.w2(m0, cov)
    n = bounds.n_blocks_required(w0, eps, gamma, 1.0)
    tr = inexact_trajectory(m0, cov, gamma=gamma, eps=eps, n_steps=n, kind=kind, seed=seed)
    flow = build_affine_flow(m0, cov, gammas=np.full(n, gamma),
                      step=lambda mu, sig, k: (tr.means[k], tr.covs[k]))
    kl_gen, kl_fwd = flow.kl_generated(), flow.kl_forward()
    assert abs(kl_gen - kl_fwd) <= KL_PUSHED_LONG_RTOL * kl_fwd + KL_PUSHED_ATOL
    eps_used = tr.eps_achieved.max()
    assert kl_fwd <= bounds.kl_guarantee_constant(gamma, 1.0) * eps_used**2 * (1 + KL_INEQ_RTOL)
