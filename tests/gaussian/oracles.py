"""Independent oracles of the Gaussian solver's tests (none re-derives the formula under test).

- the first-order condition of the JKO step, built from its definition with a Cholesky /
  exact-rank-factor OT map (no eigen-route square roots of the data);
- POT's Bures-Wasserstein distance;
- random non-commuting JKO problems (hypothesis strategy).
"""

from __future__ import annotations

import numpy as np
import ot
import scipy.linalg
import scipy.optimize
import scipy.stats
from hypothesis import strategies as st

from tests import strategies as S
from tests.tolerances import (
    scale_of,
)
from theory import gaussian as G

# ----------------------------------------------------------------------------------------------
# Independent oracles
# ----------------------------------------------------------------------------------------------


def brenier_to_factor(s_cov: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Brenier matrix B from N(., S) (SPD) to N(., V V^T), without eigen-roots of data.

    With S = L L^T and Y = L^T V: B = L^{-T} Y (Y^T Y)^{-1/2} Y^T L^{-1}. Check: B is symmetric
    PSD and B S B = L^{-T} Y Y^T L^{-1} = V V^T, so B is the unique Brenier map.
    """
    d = s_cov.shape[0]
    if v.shape[1] == 0:
        return np.zeros((d, d))
    lo = np.linalg.cholesky(s_cov)
    li = scipy.linalg.solve_triangular(lo, np.eye(d), lower=True)
    y = lo.T @ v
    w, u = np.linalg.eigh(y.T @ y)  # (rank, rank) SPD
    xh = (y @ (u / np.sqrt(w))) @ (u.T @ y.T)
    return li.T @ xh @ li


def foc_parts(m, v, mu, s_new, gamma, q, b, beta, p):
    """Residual ξ(y) = Q(y-b) - β S'^{-1}(y-μ) + P(y-μ) + (y - T^{-1}y)/γ = const + lin (y-μ).

    T^{-1}(y) = m + B (y - μ) with B the Brenier map from ρ' to ρ_n. Returns (lin, const, B).
    """
    d = m.size
    bmap = brenier_to_factor(s_new, v)
    s_inv = np.linalg.inv(s_new)
    lin = q + p - beta * s_inv + (np.eye(d) - bmap) / gamma
    const = q @ (mu - b) + (mu - m) / gamma
    return lin, const, bmap


def w2_pot(m0, c0, m1, c1) -> float:
    """W2 (not squared) from POT's Bures trace formula."""
    return float(ot.gaussian.bures_wasserstein_distance(np.asarray(m0, float),
                                                        np.asarray(m1, float), c0, c1))


@st.composite
def general_problems(draw, d_max: int = 8, allow_singular: bool = True):
    """A random non-commuting JKO problem: data (m, Σ=VV^T), target N(b, C), β, P, γ."""
    d = draw(S.dims(1, d_max))
    cov, v = draw(S.factored_covariances(d=d, allow_singular=allow_singular))
    tcov = draw(S.spd_matrices(d=d))
    p = draw(st.one_of(st.none(), S.spd_matrices(d=d)))
    return dict(mean=draw(S.means(d)), cov=cov, factor=v, target_mean=draw(S.means(d)),
                target_cov=tcov, beta=draw(S.log_uniform(0.1, 10.0)), interaction=p,
                gamma=draw(S.gammas()))


def step_of(pb):
    return G.jko_step(pb["mean"], pb["cov"], gamma=pb["gamma"], target_mean=pb["target_mean"],
                      target_cov=pb["target_cov"], beta=pb["beta"],
                      interaction=pb["interaction"])


def foc_of(pb, mu, s_new):
    d = pb["mean"].size
    q = np.linalg.inv(pb["target_cov"])
    p = np.zeros((d, d)) if pb["interaction"] is None else pb["interaction"]
    lin, const, bmap = foc_parts(pb["mean"], pb["factor"], mu, s_new, pb["gamma"], q,
                                 pb["target_mean"], pb["beta"], p)
    lin_scale = scale_of(q, p, pb["beta"] * np.linalg.inv(s_new)) + (1 + scale_of(bmap)) / pb[
        "gamma"]
    const_scale = (np.linalg.norm(q @ (mu - pb["target_mean"]))
                   + np.linalg.norm(mu - pb["mean"]) / pb["gamma"])
    return lin, const, lin_scale, const_scale
