"""Property tests of every implemented inequality of theory/bounds.py on exact Gaussian steps.

Each test takes the exact JKO step (theory.gaussian.jko_step, checked against its first-order
condition and brute force in tests/gaussian/test_closed_form.py), measures W2 / KL with
theory.gaussian (accurate far below 1e-8), and checks the bound from theory.bounds with the
named slack ``lhs <= rhs * (1 + rtol) + atol`` (tests/tolerances.py). Random SPD targets with
condition up to 1e4, singular data, γ ∈ [1e-3, 1e3], d ∈ 1..20. Sharpness tests show the
bounds are attained, so that a wrong (too loose) bound formula would be noticed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies as S
from tests.tolerances import (
    EPS,
    INEQ_ATOL,
    INEQ_RTOL,
    KL_INEQ_ATOL,
    KL_INEQ_RTOL,
    LOCAL_RATE_MEAN_ATOL,
    LOCAL_RATE_STD_ROUNDOFF_MARGIN,
    SHARP_RTOL,
)
from theory import bounds as B
from theory import gaussian as G


def _le(lhs, rhs, rtol=INEQ_RTOL, atol=INEQ_ATOL):
    assert lhs <= rhs * (1.0 + rtol) + atol, f"{lhs!r} > {rhs!r} (ratio {lhs / rhs:.12g})"


@st.composite
def problems(draw, d_max: int = S.D_MAX, allow_singular: bool = True):
    """Data N(m, Σ) (Σ SPD or singular) and a general target N(b, C), C SPD (cond <= 1e4)."""
    d = draw(S.dims(1, d_max))
    return dict(mean=draw(S.means(d)),
                cov=draw(S.data_covariances(d=d, allow_singular=allow_singular)),
                b=draw(S.means(d)), c=draw(S.spd_matrices(d=d)), gamma=draw(S.gammas()))


def _one_step(pb):
    m1, c1 = G.jko_step(pb["mean"], pb["cov"], gamma=pb["gamma"], target_mean=pb["b"],
                        target_cov=pb["c"])
    lam = G.convexity_modulus(pb["c"])
    w0 = G.w2(pb["mean"], pb["cov"], pb["b"], pb["c"])
    w1 = G.w2(m1, c1, pb["b"], pb["c"])
    return m1, c1, lam, w0, w1


@given(pb=problems())
def test_c2_exact_w2_contraction(pb):
    """C2: W_{n+1} <= W_n / (1 + γλ), λ = 1/λmax(C), general target, singular data allowed."""
    _, _, lam, w0, w1 = _one_step(pb)
    _le(w1, w0 * float(B.w2_contraction_factor(pb["gamma"], lam)))


@given(pb=problems())
def test_c5_one_step_gap_finite_from_singular_data(pb):
    """C5: KL(ρ_{n+1}‖q) <= W_n² / (2γ(2+γλ)), finite even where KL(ρ_n‖q) = inf."""
    m1, c1, lam, w0, _ = _one_step(pb)
    kl1 = G.kl(m1, c1, pb["b"], pb["c"])
    assert np.isfinite(kl1)
    _le(kl1, float(B.gap_one_step(w0, pb["gamma"], lam)), KL_INEQ_RTOL, KL_INEQ_ATOL)
    _le(kl1, float(B.gap_one_step_loose(w0, pb["gamma"], lam)), KL_INEQ_RTOL, KL_INEQ_ATOL)


@given(pb=problems(allow_singular=False))
def test_c7_talagrand(pb):
    """C7: W2²(ρ, q) <= 2 KL(ρ‖q) / λ for any Gaussian ρ and target q = N(b, C)."""
    lam = G.convexity_modulus(pb["c"])
    w2sq = G.w2_sq(pb["mean"], pb["cov"], pb["b"], pb["c"])
    kl = G.kl(pb["mean"], pb["cov"], pb["b"], pb["c"])
    _le(w2sq, float(B.talagrand_w2_sq(kl, lam)), KL_INEQ_RTOL, KL_INEQ_ATOL)


@given(pb=problems(allow_singular=False))
def test_c18_kl_contraction(pb):
    """C18: KL_{n+1} <= KL_n/(1+γλ)² (Gaussian, sharp) <= KL_n/(1+2γλ) (generic)."""
    m1, c1, lam, _, _ = _one_step(pb)
    kl0 = G.kl(pb["mean"], pb["cov"], pb["b"], pb["c"])
    kl1 = G.kl(m1, c1, pb["b"], pb["c"])
    _le(kl1, kl0 * float(B.kl_contraction_gaussian(pb["gamma"], lam)), KL_INEQ_RTOL,
        KL_INEQ_ATOL)
    _le(kl1, kl0 * float(B.kl_contraction_generic(pb["gamma"], lam)), KL_INEQ_RTOL,
        KL_INEQ_ATOL)


@given(pb=problems(d_max=8), frac=st.floats(0.0, 1.0), seed=S.seeds)
def test_c3_inexact_step_w2(pb, frac, seed):
    """C3: a step with mean error v has residual ε (theory.foc_residual) and
    W_{n+1} <= (W_n + γε)/(1+γλ)."""
    m1, c1, lam, w0, _ = _one_step(pb)
    d = m1.size
    u = np.random.default_rng(seed).standard_normal(d)
    v = frac * (1.0 + w0) * u / np.linalg.norm(u)
    eps = G.foc_residual(pb["mean"], pb["cov"], m1 + v, c1, gamma=pb["gamma"],
                         target_mean=pb["b"], target_cov=pb["c"])
    w1 = G.w2(m1 + v, c1, pb["b"], pb["c"])
    _le(w1, float(B.w2_one_step(w0, pb["gamma"], lam, eps)))


@given(case=S.gaussian_cases(), t=S.log_uniform(1e-3, 10.0))
def test_c10_ou_smoothing_and_contraction(case, t):
    """C10: W2(P, ρ_t) <= sqrt((1-e^{-t})² M2 + (1-e^{-2t}) d) and W2(ρ_t, q) <= e^{-t} W2(P, q)
    for the OU flow toward N(0, I), singular P allowed."""
    m, cov = case
    d = m.size
    mt, ct = G.ou_marginal(m, cov, t=t)
    m2 = float(m @ m + np.trace(cov))
    _le(G.w2(m, cov, mt, ct), float(B.ou_smoothing_w2(t, m2, d)))
    _le(G.w2(mt, ct), float(B.ou_contraction(t, G.w2(m, cov))))


# ----------------------------------------------------------------------------------------------
# Sharpness and local rates (C2, C15, C18)
# ----------------------------------------------------------------------------------------------


@given(d=S.dims(1, 20), c=st.data(), gamma=S.gammas(), shift=S.log_uniform(1e-6, 10.0))
def test_c2_and_c18_attained_by_slowest_mean_shift(d, c, gamma, shift):
    """ρ_0 = N(b + s v, C), v the top eigenvector of C: W2 and KL ratios equal the bounds."""
    cov = c.draw(S.spd_matrices(d=d))
    b = c.draw(S.means(d))
    w, u = np.linalg.eigh(cov)
    lam = 1.0 / w[-1]
    m0 = b + shift * u[:, -1]
    m1, c1 = G.jko_step(m0, cov, gamma=gamma, target_mean=b, target_cov=cov)
    ratio = G.w2(m1, c1, b, cov) / G.w2(m0, cov, b, cov)
    assert ratio == pytest.approx(float(B.w2_contraction_factor(gamma, lam)), rel=SHARP_RTOL)
    kl_ratio = G.kl(m1, c1, b, cov) / G.kl(m0, cov, b, cov)
    assert kl_ratio == pytest.approx(float(B.kl_contraction_gaussian(gamma, lam)),
                                     rel=SHARP_RTOL)


@given(d=S.dims(1, 10), c=st.data(), gamma=S.gammas())
def test_c15_local_rate_of_mean_along_each_eigenvector(d, c, gamma):
    """C15: the mean error along eigenvector i of Q contracts by exactly 1/(1+γ q_i)."""
    cov = c.draw(S.spd_matrices(d=d))
    w, u = np.linalg.eigh(cov)
    for i in range(d):
        m1, _ = G.jko_step(u[:, i], cov, gamma=gamma, target_cov=cov)
        np.testing.assert_allclose(m1, float(B.local_rate_mean(gamma, 1.0 / w[i])) * u[:, i],
                                   atol=LOCAL_RATE_MEAN_ATOL)


@given(d=S.dims(1, 10), c=st.data(), gamma=S.gammas(1e-2, 1e2))
def test_c15_local_rate_of_std_near_equilibrium(d, c, gamma):
    """C15: a small std error along eigenvector v (eigenvalue 1/q of C) contracts by
    1/(1+2γq) + O(δ). Measured as the ratio of W2 to the target (commuting, exact).

    Tolerance: the exact ratio is 1/(1+γq(1+s*/σ')), within δ/4 (relative) of 1/(1+2γq) for a
    relative variance perturbation δ; round-off in Σ' - C (absolute ~eps κ ||C||, against a
    difference ~δ w_i/(1+2γq)) adds ~eps κ (1+2γq)/δ relative, with a x1e3 margin. For γq >~ 1e-3
    this still separates 1/(1+2γq) from the mean rate 1/(1+γq).
    """
    cov = c.draw(S.spd_matrices(d=d, cond_max=1e2))
    w, u = np.linalg.eigh(cov)
    i = c.draw(st.integers(0, d - 1))
    delta = 1e-4
    c0 = cov + delta * w[i] * np.outer(u[:, i], u[:, i])
    z = np.zeros(d)
    m1, c1 = G.jko_step(z, c0, gamma=gamma, target_cov=cov)
    ratio = G.w2(m1, c1, z, cov) / G.w2(z, c0, z, cov)
    gq = gamma / w[i]
    kappa = w[-1] / w[0]
    rtol = delta / 4 + LOCAL_RATE_STD_ROUNDOFF_MARGIN * EPS * kappa * (1 + 2 * gq) / delta
    assert ratio == pytest.approx(float(B.local_rate_std(gamma, 1.0 / w[i])), rel=rtol)
    if gq > 1e-2:
        assert ratio != pytest.approx(float(B.local_rate_mean(gamma, 1.0 / w[i])), rel=rtol)


# ----------------------------------------------------------------------------------------------
# Bad inputs
# ----------------------------------------------------------------------------------------------

_BAD = [
    (lambda: B.w2_contraction_factor(0.0, 1.0), "gamma"),
    (lambda: B.w2_contraction_factor(1.0, -1.0), "lam"),
    (lambda: B.w2_contraction_factor(np.inf, 1.0), "gamma"),
    (lambda: B.w2_one_step(1.0, 1.0, 1.0, eps=-1e-3), "eps"),
    (lambda: B.w2_one_step(-1.0, 1.0, 1.0), "w_prev"),
    (lambda: B.w2_multi_step(3, 1.0, 1.0, 1.0, eps=-1.0), "eps"),
    (lambda: B.gap_one_step(1.0, 1.0, 1.0, eps=-0.1), "eps"),
    (lambda: B.gap_one_step(1.0, -1.0, 1.0), "gamma"),
    (lambda: B.kl_after_n(0, 1.0, 1.0, 1.0), "n"),
    (lambda: B.talagrand_w2_sq(-1.0, 1.0), "kl"),
    (lambda: B.talagrand_w2_sq(1.0, 0.0), "lam"),
    (lambda: B.kl_contraction_gaussian(1.0, np.nan), "lam"),
    (lambda: B.a_posteriori_kl(-1.0, 1.0, 1.0, 1.0), "eps"),
    (lambda: B.stationary_kl(-1.0, 1.0), "eps"),
    (lambda: B.n_blocks_required(1.0, -1e-3, 1.0, 1.0), "eps"),
    (lambda: B.ou_smoothing_w2(-1.0, 1.0, 2), "delta"),
    (lambda: B.ou_smoothing_w2(1.0, 1.0, 2.5), "d"),
    (lambda: B.w2_multi_step_variable([1.0], 1.0, -1.0), "w0"),
    (lambda: B.n_blocks_required(1.0, 0.1, 1.0, 1.0, c=0.0), "c"),
    (lambda: B.w2_multi_step_variable([1.0, -1.0], 1.0, 1.0), "gammas"),
    (lambda: B.inversion_telescoping([1.0, 1.0], [0.1]), "lips"),
]


@pytest.mark.parametrize("call, name", _BAD, ids=[f"{i}-{n}" for i, (_, n) in enumerate(_BAD)])
def test_bad_inputs_raise_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()
