"""Tests of :func:`theory.oned.trajectory` and its per-step quantities.

Oracles: the Gaussian closed-form JKO trajectory (theory.gaussian.jko_step, kl, w2), POT's exact
OT between the node measures (``ot.emd2``), and the solver's single step (for the nodes).
"""

import math

import numpy as np
import ot
import pytest

from tests.tolerances import (
    ONED_GAUSS_TRAJ_ERR_N800,
    ONED_KL_DISC_ATOL,
    ONED_POT_RTOL,
)
from theory import gaussian
from theory.oned import (
    Entropy,
    Trajectory1D,
    gaussian_grid,
    gaussian_quantile,
    jko_step,
    kl_to_gibbs,
    quartic_potential,
    trajectory,
)

KL_STD = kl_to_gibbs(quartic_potential(1.0))


def test_per_step_quantities_match_the_gaussian_closed_form():
    g, gamma = gaussian_grid(800), 0.5
    path = trajectory(g.nodes(gaussian_quantile(1.5, 2.0)), g, KL_STD, gamma=gamma, n_steps=4)
    assert isinstance(path, Trajectory1D) and path.n_steps == 4
    assert path.nodes.shape == (5, 800) and path.residuals.shape == (4,)
    m, c = np.array([1.5]), np.array([[4.0]])
    ms, cs = [m], [c]
    for _ in range(4):
        m, c = gaussian.jko_step(m, c, gamma=gamma)
        ms.append(m)
        cs.append(c)
    for k in range(5):
        assert abs(path.energies[k] - gaussian.kl(ms[k], cs[k])) < ONED_KL_DISC_ATOL
        w_star = gaussian.w2(ms[k], cs[k], [0.0], [[1.0]])
        assert abs(path.w2_to_minimiser[k] - w_star) < ONED_GAUSS_TRAJ_ERR_N800
    for k in range(4):
        w_step = gaussian.w2(ms[k], cs[k], ms[k + 1], cs[k + 1])
        assert abs(path.w2_steps[k] - w_step) < ONED_GAUSS_TRAJ_ERR_N800


def test_w2_steps_are_exact_ot_between_node_measures():
    g = gaussian_grid(40)
    path = trajectory(g.nodes(gaussian_quantile(-1.0, 0.5)), g, KL_STD, 1.0, 3)
    for k in range(3):
        a, b = path.nodes[k], path.nodes[k + 1]
        ref = ot.emd2(g.w, g.w, ot.dist(a[:, None], b[:, None]), numItermax=10**6)
        assert path.w2_steps[k] ** 2 == pytest.approx(ref, rel=ONED_POT_RTOL)
    # the iterates are the solver's single steps, and unpacking gives (nodes, residuals)
    nodes, res = path
    step = jko_step(nodes[1], g, KL_STD, 1.0)
    np.testing.assert_array_equal(step.x, nodes[2])
    assert step.residual == res[1]


def test_minimiser_unknown_and_tied_start():
    g = gaussian_grid(100)
    G = quartic_potential(1.0) + Entropy()  # no closed-form minimiser attached
    y = np.where(g.s < 0.5, -1.0, 2.0)  # two atoms: tied nodes, entropy +inf
    path = trajectory(y, g, G, 0.5, 2)
    assert path.w2_to_minimiser is None
    assert math.isinf(path.energies[0]) and np.all(np.isfinite(path.energies[1:]))
    assert path.w2_to(y)[0] == 0.0 and path.w2_to(gaussian_quantile()).shape == (3,)
    empty = trajectory(y, g, G, 0.5, 0)
    assert empty.nodes.shape == (1, 100) and empty.w2_steps.shape == (0,)


@pytest.mark.parametrize("kwargs,name", [
    ({"n_steps": -3}, "n_steps"), ({"n_steps": 2.7}, "n_steps"), ({"n_steps": True}, "n_steps"),
    ({"eps": float("nan")}, "eps"), ({"eps": -0.1}, "eps"), ({"gamma": 0.0}, "gamma"),
    ({"gamma": float("inf")}, "gamma"), ({"tol": 0.0}, "tol"), ({"direction": "up"}, "direction"),
    ({"G": "KL"}, "G"), ({"y0": np.zeros(3)}, "y0"),
])
def test_bad_input_raises_naming_the_argument(kwargs, name):
    g = gaussian_grid(50)
    args = {"y0": g.nodes(gaussian_quantile()), "grid": g, "G": KL_STD, "gamma": 0.5,
            "n_steps": 2, **kwargs}
    with pytest.raises(ValueError, match=f"^{name} "):
        trajectory(**args)
