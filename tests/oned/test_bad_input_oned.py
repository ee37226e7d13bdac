"""Bad input to the 1-D solver: one ValueError naming the problem, never a silent NaN.

Three groups (tests/test_bad_input.py holds the older rows of ``theory.oned``; none repeated):

- an overflowing potential, V = x²/2 + log(1 + eˣ) written naively in torch, on the quantile
  nodes of N(0, 100²): the gradient of G is NaN at the top nodes (inf/inf), so ``jko_step`` and
  ``trajectory`` must raise (``nan > tol`` is False: the old solver returned the data unchanged);
  ``trajectory`` records and warns about unconverged steps;
- non-normalisable Gibbs potentials: one ValueError, not a scipy error after a warning flood;
  a normalisable one still matches its closed form;
- a sweep of the public API of ``theory.oned`` (``__all__``) for non-finite, mis-shaped, empty
  or unordered arrays, bad scalars and wrong types: a ValueError whose message names the
  argument.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch

from theory import oned as O

NAN, INF = float("nan"), float("inf")
GRID = O.gaussian_grid(24)
KL = O.kl_to_gibbs(O.quartic_potential(1.0))
Y = GRID.nodes(O.gaussian_quantile(1.0, 0.5))
Q = O.gaussian_quantile()


def _with(a, i, v):
    b = np.array(a, dtype=np.float64)
    b[i] = v
    return b


Y_NAN, Y_INF = _with(Y, 3, NAN), _with(Y, 5, -INF)
Y_SWAP = _with(Y, [3, 4], Y[[4, 3]])  # decreasing at one pair
Y_TIE = _with(Y, 4, Y[3])  # ties: fine for data, not for a strictly increasing x
Y_2D, Y_SHORT, EMPTY = np.stack([Y, Y]), Y[:-1], np.zeros(0)


# --- an overflowing potential: "not finite", never a silent return ------------------------------
def _naive_softplus_kl():
    return O.kl_to_gibbs(O.Potential.from_function(
        lambda x: x**2 / 2 + torch.log(1 + torch.exp(x)), name="naive"))


@pytest.fixture(scope="module")
def overflow_case():
    """G with the naive V, and the nodes of N(0, 100²) on a tail-graded grid (up to x = 800)."""
    grid = O.gaussian_grid(50)
    y = grid.nodes(O.gaussian_quantile(0.0, 100.0))
    assert y.max() > 710.0  # exp overflows above ~709.8: the premise of the test
    return grid, y, _naive_softplus_kl()


def test_jko_step_raises_on_an_overflowing_potential(overflow_case):
    grid, y, G = overflow_case
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="not finite") as err:
            O.jko_step(y, grid, G, 0.5)
    assert "softplus" in str(err.value)  # says how to fix it
    assert len(rec) < 5


def test_trajectory_raises_naming_the_step(overflow_case):
    grid, y, G = overflow_case
    with pytest.raises(ValueError, match=r"trajectory step 1 of 3: .*not finite"):
        O.trajectory(y, grid, G, 0.5, 3)


def test_stable_softplus_on_the_same_data_converges(overflow_case):
    """The control: the same V written with softplus solves the same step."""
    grid, y, _ = overflow_case
    G = O.kl_to_gibbs(O.Potential.from_function(
        lambda x: x**2 / 2 + torch.nn.functional.softplus(x), lam=1.0))
    r = O.jko_step(y, grid, G, 0.5)
    assert r.converged and np.all(np.isfinite(r.x)) and not np.allclose(r.x, y)


def test_trajectory_records_and_warns_unconverged_steps():
    """tol = 1e-300 is below the round-off floor: every step stops unconverged."""
    with pytest.warns(RuntimeWarning, match=r"trajectory step \d of 3 did not converge") as rec:
        path = O.trajectory(Y, GRID, KL, 0.5, 3, tol=1e-300)
    assert len([w for w in rec if issubclass(w.category, RuntimeWarning)]) == 3
    assert path.converged.tolist() == [False] * 3 and not path.all_converged
    assert np.all(np.isfinite(path.nodes)) and np.all(path.residuals < 1e-9)


def test_trajectory_records_converged_steps():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = O.trajectory(Y, GRID, KL, 0.5, 3)
    assert path.converged.tolist() == [True] * 3 and path.all_converged


# --- Gibbs measures of non-normalisable potentials --------------------------------------------
_NOT_NORM = "not normalisable"
GIBBS_NUMPY = [
    ("zero", lambda x: 0.0 * x, _NOT_NORM),
    ("linear", lambda x: x, _NOT_NORM),
    ("-x^2", lambda x: -(x**2), _NOT_NORM),
    ("nan everywhere", lambda x: x * NAN, _NOT_NORM),
    ("nan near 0", lambda x: np.where(np.abs(x) < 1.0, NAN, x * x / 2), "NaN"),
    ("-inf for x < -5", lambda x: np.where(x < -5.0, -INF, x * x / 2), _NOT_NORM),
]
GIBBS_TORCH = [
    ("zero", lambda x: 0.0 * x, _NOT_NORM),
    ("linear", lambda x: x, _NOT_NORM),
    ("-x^2", lambda x: -(x**2), _NOT_NORM),
    ("nan everywhere", lambda x: x * NAN, "V must be finite"),  # rejected by the autodiff probe
    ("-inf at 0: x^2/2 + log|x|", lambda x: x**2 / 2 + torch.log(torch.abs(x)), _NOT_NORM),
]


def _one_error(fn, fragment):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=re.escape(fragment)):
            fn()
    assert len(rec) < 5, [str(w.message) for w in rec[:3]]


@pytest.mark.parametrize("V, fragment", [c[1:] for c in GIBBS_NUMPY],
                         ids=[c[0] for c in GIBBS_NUMPY])
def test_gibbs_measure_of_a_non_normalisable_potential(V, fragment):
    _one_error(lambda: O.GibbsMeasure1D(V), fragment)


@pytest.mark.parametrize("V, fragment", [c[1:] for c in GIBBS_TORCH],
                         ids=[c[0] for c in GIBBS_TORCH])
def test_kl_to_gibbs_of_a_non_normalisable_potential(V, fragment):
    _one_error(lambda: O.kl_to_gibbs(V), fragment)


def test_normalisable_potential_matches_the_closed_form():
    """V = x²/2: Z = √(2π), KL(N(m, s²)‖N(0, 1)) = (s² + m² − 1)/2 − log s."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G = O.kl_to_gibbs(lambda x: x**2 / 2)
    assert abs(G.gibbs.log_z - 0.5 * math.log(2.0 * math.pi)) < 1e-12
    grid = O.gaussian_grid(801)
    for m, s in ((0.0, 1.0), (0.5, 1.3)):
        exact = (s * s + m * m - 1.0) / 2.0 - math.log(s)
        # discrete KL: second-order quadrature error, measured 5e-5 and 9.6e-5 at n = 801
        assert abs(G.energy(grid.nodes(O.gaussian_quantile(m, s)), grid) - exact) < 2e-4


# --- the public API of theory.oned: a ValueError naming the argument ---------------------------
_BQ = dict(cdf=lambda x: x, s=[0.5], lo=0.0, hi=1.0)
_MIX = O.GaussianMixture1D.make([1.0], [0.0], [1.0])
_ATOMS = O.Atoms1D.make([-1.0, 1.0])
_BAR = O.BarenblattProfile(2.0)
_TRAJ = dict(y0=Y, grid=GRID, G=KL, gamma=0.5, n_steps=1)
_STEP = dict(y=Y, grid=GRID, G=KL, gamma=0.5)
_XY = dict(x=Y, y=Y, grid=GRID, G=KL, gamma=0.5)


def _hess(diag, off):
    return O.Hessian1D(np.asarray(diag, dtype=float), np.asarray(off, dtype=float))


ONED = [
    # jko_step / inexact_step / steady_state / jko_objective / foc_residual
    (O.jko_step, {**_STEP, "y": Y_INF}, "y must be a non-empty finite array"),
    (O.jko_step, {**_STEP, "y": Y_2D}, "y must have shape (24,)"),
    (O.jko_step, {**_STEP, "y": EMPTY}, "y must be a non-empty"),
    (O.jko_step, {**_STEP, "y": Y_SWAP}, "y must be non-decreasing"),
    (O.jko_step, {**_STEP, "gamma": 0.0}, "gamma"),
    (O.jko_step, {**_STEP, "gamma": -1.0}, "gamma"),
    (O.jko_step, {**_STEP, "tol": NAN}, "tol"),
    (O.jko_step, {**_STEP, "max_iter": 2.5}, "max_iter must be an integer"),
    (O.jko_step, {**_STEP, "max_iter": -1}, "max_iter must be an integer >= 0"),
    (O.jko_step, {**_STEP, "x0": Y_TIE}, "x0 must be strictly increasing"),
    (O.jko_step, {**_STEP, "x0": Y_NAN}, "x0"),
    (O.jko_step, {**_STEP, "G": "kl"}, "G must be a Functional1D"),
    (O.jko_step, {**_STEP, "grid": "grid"}, "grid must be a MassGrid"),
    (O.inexact_step, {**_STEP, "max_iter": 1.5}, "max_iter must be an integer"),
    (O.inexact_step, {**_STEP, "eps": INF}, "eps"),
    (O.inexact_step, {**_STEP, "eps": 0.1, "direction": "up"}, "direction"),
    (O.inexact_step, {**_STEP, "eps": 0.1, "tol": 0.0}, "tol"),
    (O.inexact_step, {**_STEP, "eps": 0.1, "G": None}, "G must be a Functional1D"),
    (O.steady_state, dict(G=KL, grid=GRID, x0=Y_2D), "x0 must have shape"),
    (O.steady_state, dict(G=KL, grid=GRID, x0=Y, max_iter=-1), "max_iter"),
    (O.steady_state, dict(G="kl", grid=GRID, x0=Y), "G must be a Functional1D"),
    (O.jko_objective, {**_XY, "x": Y_TIE}, "x must be strictly increasing"),
    (O.jko_objective, {**_XY, "gamma": NAN}, "gamma"),
    (O.jko_objective, {**_XY, "G": 1.0}, "G must be a Functional1D"),
    (O.foc_residual, {**_XY, "x": Y_SHORT}, "x must have shape (24,)"),
    (O.foc_residual, {**_XY, "G": "kl"}, "G must be a Functional1D"),
    # trajectory (the rows of tests/test_bad_input.py not repeated)
    (O.trajectory, {**_TRAJ, "tol": NAN}, "tol"),
    (O.trajectory, {**_TRAJ, "y0": EMPTY}, "y0 must be a non-empty"),
    (O.trajectory, {**_TRAJ, "y0": Y_2D}, "y0 must have shape"),
    (O.trajectory, {**_TRAJ, "grid": "grid"}, "grid must be a MassGrid"),
    (O.trajectory, {**_TRAJ, "eps": 0.1, "direction": "x"}, "direction"),
    (O.trajectory, {**_TRAJ, "n_steps": NAN}, "n_steps must be an integer"),
    # node vectors and W2
    (O.validate_nodes, dict(x=Y_INF, grid=GRID), "x must be a non-empty finite array"),
    (O.validate_nodes, dict(x=Y, grid="grid"), "grid must be a MassGrid"),
    (O.validate_nodes, dict(x=Y_SWAP, grid=GRID, name="nodes"), "nodes must be strictly"),
    (O.w2, dict(x=Y, y=Y_SHORT, grid=GRID), "y must have shape (24,)"),
    (O.w2, dict(x=Y_SWAP, y=Y, grid=GRID), "x must be non-decreasing"),
    (O.w2_sq, dict(x=Y, y=Y_INF, grid=GRID), "y must be a non-empty finite array"),
    (O.w2_to_quantile, dict(x=Y_NAN, grid=GRID, quantile=Q), "x"),
    (O.w2_to_quantile, dict(x=Y, grid=GRID, quantile="q"), "quantile must be a callable"),
    (O.w2_to_quantile, dict(x=Y, grid=GRID, quantile=lambda s, sc=None: s * NAN),
     "quantile must return finite values"),
    (O.gap_densities, dict(x=Y_TIE, grid=GRID), "x must be strictly increasing"),
    (O.density_at_nodes, dict(x=Y_2D, grid=GRID), "x must have shape"),
    (O.density_at_nodes, dict(x=Y_NAN, grid=GRID), "x must be a non-empty finite array"),
    (O.moments, dict(x=EMPTY, grid=GRID), "x must be a non-empty"),
    # grids and quantiles
    (O.mass_grid, dict(s=np.array([[0.1, 0.2, 0.3]])), "s must be a 1-D array"),
    (O.mass_grid, dict(s=EMPTY), "s must be a 1-D array with at least 3 entries"),
    (O.mass_grid, dict(s=[0.1, 0.3, 0.2]), "s must be strictly increasing"),
    (O.mass_grid, dict(s=[0.1, 0.3, 1.2]), "s must be finite and inside [0, 1]"),
    (O.mass_grid, dict(s=[0.1, 0.3, 0.5], sc=[0.9, 0.7]), "sc must have the shape of s"),
    (O.gaussian_grid, dict(n=NAN), "n must be an integer"),
    (O.gaussian_grid, dict(n=10, zmax=-1.0), "zmax"),
    (O.uniform_grid, dict(n=2.5), "n must be an integer"),
    (O.gaussian_quantile, dict(mean=NAN), "mean"),
    (O.gaussian_quantile, dict(sd=INF), "sd"),
    (O.quantiles_by_bisection, {**_BQ, "xtol": NAN}, "xtol"),
    (O.quantiles_by_bisection, {**_BQ, "xtol": -1.0}, "xtol"),
    (O.quantiles_by_bisection, {**_BQ, "s": EMPTY}, "s must be a non-empty"),
    (O.quantiles_by_bisection, {**_BQ, "s": [NAN]}, "s must lie in [0, 1]"),
    (O.quantiles_by_bisection, {**_BQ, "lo": NAN}, "lo and hi must be finite"),
    (O.quantiles_by_bisection, {**_BQ, "s": [0.5, 0.6], "sc": [0.5]},
     "sc must have the shape of s"),
    (O.quantiles_by_bisection, {**_BQ, "cdf": lambda x: x * NAN}, "cdf (or sf) returned NaN"),
    (O.quantiles_by_bisection, {**_BQ, "cdf": lambda x: np.where(x > 0.3, NAN, x)},
     "cdf (or sf) returned NaN"),
    # exact references
    (O.GaussianMixture1D.make, dict(weights=[1.0], means=[[0.0]], sds=[1.0]),
     "means must be a 1-D array"),
    (O.GaussianMixture1D.make, dict(weights=[], means=[], sds=[]), "means must have dimension"),
    (O.GaussianMixture1D.make, dict(weights=[1.0], means=[0.0, 1.0], sds=1.0),
     "weights must have shape (2,)"),
    (O.GaussianMixture1D.make, dict(weights=[1.0, 1.0], means=[0.0, 1.0], sds=[1.0] * 3),
     "sds must be a scalar or match"),
    (O.GaussianMixture1D.make, dict(weights=[INF, 1.0], means=[0.0, 1.0], sds=1.0), "weights"),
    (_MIX.quantile, dict(s=[NAN]), "s must lie in [0, 1]"),
    (O.Atoms1D.make, dict(points=[]), "points must have dimension"),
    (O.Atoms1D.make, dict(points=[[0.0, 1.0]]), "points must be a 1-D array"),
    (O.Atoms1D.make, dict(points=[0.0, 1.0], weights=[1.0, -1.0]), "weights"),
    (_ATOMS.ou_smooth, dict(delta=NAN), "delta"),
    (O.w2_atoms_to_mixture, dict(atoms="a", mix=_MIX), "atoms must be an Atoms1D"),
    (O.w2_atoms_to_mixture, dict(atoms=_ATOMS, mix=None), "mix must be a GaussianMixture1D"),
    (O.w2_between_quantiles, dict(q1=Q, q2=Q, zmax=NAN), "zmax"),
    (O.w2_between_quantiles, dict(q1=Q, q2=lambda s, sc=None: s * NAN), "q2 must return"),
    (O.w2_between_quantiles, dict(q1="q", q2=Q), "q1 must be a quantile function"),
    (O.BarenblattProfile, dict(m=NAN), "m"),
    (_BAR.quantile, dict(s=[NAN]), "s (and sc) must lie in [0, 1]"),
    (_BAR.quantile, dict(s=[0.5], radius=0.0), "radius"),
    (_BAR.quantile, dict(s=[0.5, 0.6], sc=[0.5]), "sc must have the shape of s"),
    (_BAR.pdf, dict(x=[0.5], radius=NAN), "radius"),
    (_BAR.next_radius, dict(radius=NAN, gamma=0.5), "radius"),
    (_BAR.dilation, dict(radius=1.0, gamma=0.0), "gamma"),
    (O.GibbsMeasure1D, dict(potential=3.0), "potential must be a callable"),
    (O.GibbsMeasure1D, dict(potential=lambda x: x * x / 2, center=NAN), "center"),
    (O.GibbsMeasure1D, dict(potential=lambda x: x * x / 2, center="a"), "center"),
    (O.GibbsMeasure1D, dict(potential=lambda x: x * x / 2, n_panels=2.5), "n_panels"),
    # functionals
    (O.Potential.from_function, dict(V=3.0), "V must be a callable"),
    (O.Potential.from_function, dict(V=lambda x: x.float() ** 2), "V must compute in float64"),
    (O.Potential.from_function, dict(V=lambda x: x**2, lam=NAN), "lam"),
    (O.Potential, dict(V=np.square, dV=np.abs, d2V=np.abs, lam=INF), "lam"),
    (O.InternalEnergy.from_energy_density, dict(U=lambda r: r * NAN), "U must be finite"),
    (O.PairInteraction.from_function, dict(W=lambda z: z**2, lam=NAN), "lam"),
    (O.PairInteraction.from_function, dict(W=lambda z: z - z.mean()), "W must act elementwise"),
    (O.QuadraticInteraction, dict(kappa=0.0), "kappa"),
    (O.AbsInteraction, dict(kappa=NAN), "kappa"),
    (O.Entropy, dict(beta=NAN), "beta"),
    (O.PorousMedium, dict(m=NAN), "m"),
    (O.quartic_potential, dict(a2=1.0, a4=-1.0), "a4"),
    (O.quartic_potential, dict(a2=1.0, center=NAN), "center"),
    (O.quartic_potential, dict(a2=0.0, a4=0.0), "a2 and a4"),
    (O.Constant, dict(c=NAN), "c must be a finite number"),
    (O.Constant, dict(c="a"), "c must be a finite number"),
    (O.SumFunctional, dict(terms=()), "terms must not be empty"),
    (O.SumFunctional, dict(terms=(KL, "a")), "terms must be Functional1D"),
    (O.kl_to_gibbs, dict(potential="V"), "potential must be a Potential"),
    (O.kl_to_gibbs, dict(potential=O.quartic_potential(1.0), n_panels=0), "n_panels"),
    (KL.wasserstein_gradient, dict(x=Y_INF, grid=GRID), "x must be a non-empty finite"),
    (O.Hessian1D, dict(diag=np.ones(3), off=np.ones(3)), "off must have shape (2,)"),
    (O.Hessian1D, dict(diag=np.ones((2, 2)), off=np.ones(1)), "diag must be a non-empty 1-D"),
    (O.Hessian1D, dict(diag=EMPTY, off=EMPTY), "diag must be a non-empty 1-D"),
    (GRID.nodes, dict(quantile="q"), "quantile must be a callable"),
]


def _id(i, row):
    fn = row[0]
    return f"{i}-{getattr(fn, '__qualname__', getattr(fn, '__name__', 'call'))}"


@pytest.mark.parametrize("fn, kwargs, fragment", ONED,
                         ids=[_id(i, r) for i, r in enumerate(ONED)])
def test_oned_api_bad_input_names_the_argument(fn, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        fn(**kwargs)


def test_every_public_name_of_oned_is_swept():
    """A new public name needs a row above (classes by their constructors or methods)."""
    swept = {getattr(r[0], "__qualname__", "").split(".")[0] for r in ONED}
    swept |= {"Functional1D", "JKOStepResult", "Trajectory1D", "MassGrid"}  # no own input
    missing = set(O.__all__) - swept - {"cosine_grid"}  # cosine_grid: tests/test_bad_input.py
    assert not missing, sorted(missing)
