"""Tests of theory.flow._crosscheck and the residual's Monte Carlo error / Jacobian asymmetry.

Oracles: numpy's slogdet of the RK4 polynomial of a linear field (computed here, not by the code
under test), exact Gaussian normalisation, hand-built symmetric and antisymmetric Jacobians.
"""

import numpy as np
import pytest
import torch
from torch import nn

from tests.tolerances import (
    ASYM_ATOL,
    DISCRETE_LOGDET_ATOL,
    LINEAR_SLOGDET_ATOL,
    MC_SIGMAS,
)
from theory.flow import (
    Block,
    VelocityField,
    discrete_logdet,
    exact_residual,
    importance_mass,
    jacobian_asymmetry,
)

A = np.array([[-0.4, 0.3], [-0.1, 0.2]])


class Linear(nn.Module):
    """f(x, t) = A x (time independent)."""

    def __init__(self, a: np.ndarray) -> None:
        super().__init__()
        self.d = a.shape[0]
        self.register_buffer("a", torch.as_tensor(a, dtype=torch.float64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x @ self.a.T


def _rk4_matrix(a: np.ndarray, steps: int) -> np.ndarray:
    """The S-step RK4 map of x' = A x over [0, 1]: (I + hA + (hA)²/2 + (hA)³/6 + (hA)⁴/24)^S."""
    h = 1.0 / steps
    m = h * a
    one = np.eye(a.shape[0]) + m + m @ m / 2 + m @ m @ m / 6 + m @ m @ m @ m / 24
    return np.linalg.matrix_power(one, steps)


@pytest.mark.parametrize("steps", [1, 3, 6])
def test_discrete_logdet_linear_field(steps):
    x = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ell, sl = discrete_logdet(Block(Linear(A)), x, steps=steps)
    want = np.linalg.slogdet(_rk4_matrix(A, steps))[1]
    np.testing.assert_allclose(sl, want, atol=LINEAR_SLOGDET_ATOL)
    # constant divergence tr A: the RK4 weights sum to 1, so ℓ = tr A exactly
    np.testing.assert_allclose(ell, np.trace(A), atol=LINEAR_SLOGDET_ATOL)


def test_discrete_logdet_random_block_converges():
    torch.manual_seed(0)
    blk = Block(VelocityField(2, (64, 64), zero_init=False).double())
    x = torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    gaps = []
    for s in (6, 24):
        ell, sl = discrete_logdet(blk, x, steps=s)
        gaps.append(np.max(np.abs(ell - sl)))
    assert gaps[1] <= DISCRETE_LOGDET_ATOL
    assert gaps[1] < gaps[0] / 16  # RK4 truncation falls at least like S^-2 (measured S^-4)
    assert np.mean(np.abs(ell)) > 100 * DISCRETE_LOGDET_ATOL  # the block changes volume


def test_discrete_logdet_rejects_bad_input():
    blk = Block(Linear(A))
    with pytest.raises(ValueError, match="steps"):
        discrete_logdet(blk, torch.zeros(3, 2, dtype=torch.float64), steps=0)
    with pytest.raises(ValueError, match="x"):
        discrete_logdet(blk, torch.zeros(3, dtype=torch.float64), steps=2)
    with pytest.raises(ValueError, match="x"):  # an orientation-reversing map (a reflection)
        discrete_logdet(lambda z, **kw: (z * torch.tensor([-1.0, 1.0], dtype=z.dtype),
                                         torch.zeros(z.shape[0], dtype=z.dtype)),
                        torch.zeros(3, 2, dtype=torch.float64), steps=1)


def test_importance_mass_gaussian():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20000, 2)) * 1.5
    log_r = -0.5 * (x**2).sum(1) / 1.5**2 - np.log(2 * np.pi * 1.5**2)
    log_f = -0.5 * ((x - 0.3) ** 2).sum(1) - np.log(2 * np.pi)
    for scale in (1.0, 2.0):
        m, se = importance_mass(log_f + np.log(scale), log_r)
        assert abs(m - scale) <= MC_SIGMAS * se
        assert se < 0.05 * scale  # the test has power
    with pytest.raises(ValueError, match="log_f"):
        importance_mass([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="log_r"):
        importance_mass([0.0, 1.0], [0.0, np.nan])


def test_jacobian_asymmetry():
    rng = np.random.default_rng(4)
    s = rng.standard_normal((5, 3, 3))
    sym = np.eye(3) + 0.1 * (s + np.swapaxes(s, 1, 2))
    anti = np.eye(3) + 0.1 * (s - np.swapaxes(s, 1, 2))
    assert jacobian_asymmetry(sym) <= ASYM_ATOL
    assert abs(jacobian_asymmetry(anti) - 1.0) <= ASYM_ATOL
    assert jacobian_asymmetry(np.broadcast_to(np.eye(3), (2, 3, 3))) == 0.0
    mixed = np.eye(3) + 0.1 * s
    assert 0.0 < jacobian_asymmetry(torch.as_tensor(mixed)) < 1.0
    with pytest.raises(ValueError, match="jac"):
        jacobian_asymmetry(np.zeros((2, 3, 2)))


def test_residual_mc_error_and_asymmetry():
    """Affine maps: a symmetric matrix has no non-OT part, a rotation-like one has; SE = sd/√n."""
    rng = np.random.default_rng(5)
    x = torch.as_tensor(rng.standard_normal((400, 2)))
    score = -x
    for mat, is_sym in (([[0.8, 0.1], [0.1, 0.7]], True), ([[0.8, 0.2], [-0.2, 0.8]], False)):
        m = torch.as_tensor(np.array(mat))
        res = exact_residual(lambda z, m=m: (z @ m.T, torch.zeros(z.shape[0], dtype=z.dtype)
                                              + torch.linalg.slogdet(m)[1]), x, score, gamma=0.5)
        sq = (res.xi**2).sum(1).numpy()
        assert res.eps_sq_se == pytest.approx(sq.std(ddof=1) / np.sqrt(sq.size), rel=1e-12)
        if is_sym:
            assert res.asym_ratio <= ASYM_ATOL
        else:
            assert res.asym_ratio > 0.5
