"""Bad input to ``theory.separable`` (its ``__all__``): a ValueError naming the argument.

Non-finite, mis-shaped or empty arrays, bad scalars and wrong types. The rows already in
tests/separable/test_reference.py, test_spline.py and test_direct.py are not repeated; each row
here once gave a NaN, an empty result, an AttributeError/TypeError/RuntimeError or a message
that did not name the argument.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from theory import oned
from theory import separable as sep

NAN, INF = float("nan"), float("inf")
MU = sep.mixture([1.0], [0.0], [1.0])
DATA = sep.RotatedProduct((MU, MU), np.eye(2))
STUDENT = sep.StudentT1D(5.0)
GRID = oned.gaussian_grid(24)
X = GRID.nodes(oned.gaussian_quantile())
SPLINE = sep.QuantileSpline.from_nodes(X, GRID)
PTS = np.zeros((3, 2))
PTS_NAN = np.where(np.arange(6).reshape(3, 2) == 2, NAN, 0.0)
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def ref():
    return sep.separable_jko(DATA, [0.5], n_nodes=40, adapt=False)


class _Flow:  # the attributes compare_flow reads before anything else
    d, blocks, gammas = 2, [None], np.array([0.5])


STATIC = [
    (sep.random_rotation, dict(d=2, rng=0), "rng must be a numpy.random.Generator"),
    (sep.random_rotation, dict(d=NAN, rng=RNG), "d must be an integer"),
    (DATA.log_pdf, dict(x=PTS_NAN), "x must be a non-empty finite array"),
    (DATA.log_pdf, dict(x=np.zeros((0, 2))), "x must be a non-empty finite array"),
    (DATA.log_pdf, dict(x=np.zeros((3, 3))), "x must have shape (n, 2)"),
    (DATA.log_prob, dict(x=torch.zeros(3, 3, dtype=torch.float64)), "x must be an (m, 2)"),
    (DATA.log_prob, dict(x=np.zeros((3, 2))), "x must be an (m, 2) torch tensor"),
    (sep.RotatedProduct, dict(marginals=(MU, MU), rotation=np.diag([1.0, NAN])), "rotation"),
    (sep.separable_jko, dict(data=DATA, gammas=[0.5, INF]), "gammas"),
    (sep.separable_jko, dict(data=DATA, gammas=[0.5], n_nodes=NAN), "n_nodes"),
    (sep.separable_jko, dict(data=DATA, gammas=[0.5], n_nodes=40, tol=NAN), "tol"),
    (sep.Mixture1D, dict(law="law"), "law must be a GaussianMixture1D"),
    (sep.mixture, dict(weights=[1.0], means=[INF], sds=[1.0]), "means"),
    (sep.mixture, dict(weights=[1.0, 1.0], means=[0.0], sds=[1.0]), "weights must have shape"),
    (sep.StudentT1D, dict(nu=INF), "nu"),
    (STUDENT.quantile, dict(s=np.array([NAN])), "s (and sc) must lie in [0, 1]"),
    (STUDENT.quantile, dict(s=np.array([1.5])), "s (and sc) must lie in [0, 1]"),
    (STUDENT.quantile, dict(s=np.array([0.2, 0.6]), sc=np.array([0.8])),
     "sc must have the shape of s"),
    (sep.QuantileSpline.from_nodes, dict(nodes=X, grid="grid"), "grid must be a MassGrid"),
    (sep.QuantileSpline.from_nodes, dict(nodes=np.zeros(0), grid=GRID), "nodes"),
    (SPLINE.inverse, dict(x=np.array([0.1, NAN])), "x must be finite"),
    (SPLINE.inverse, dict(x=np.array([0.1]), max_iter=2.5), "max_iter must be an integer"),
    (SPLINE.log_pdf, dict(x=np.array([INF])), "x must be finite"),
    (SPLINE.score, dict(x=np.array([NAN])), "x must be finite"),
    (SPLINE.forward, dict(z=np.array([NAN])), "z must be finite"),
    (SPLINE.sample, dict(n=2.5, rng=RNG), "n must be an integer"),
    (SPLINE.sample, dict(n=3, rng=0), "rng must be a numpy.random.Generator"),
    (SPLINE.transport_to, dict(other="o", x=np.array([0.1])), "other must be a QuantileSpline"),
    (SPLINE.transport_to, dict(other=SPLINE, x=np.array([NAN])), "x must be finite"),
    (sep.adapted_grid, dict(marginal="m", n=30), "marginal must be a 1-D law"),
    (sep.adapted_grid, dict(marginal=MU, n=30, n_fine=2000.5), "n_fine must be an integer"),
    (sep.direct_minimisation, dict(ref="r", n=1), "ref must be a SeparableJKO"),
    (sep.compare_flow, dict(flow=None, ref="r", x0=PTS), "ref must be a SeparableJKO"),
]

# rows that need the reference: (method name or function, kwargs, fragment)
WITH_REF = [
    ("score", dict(n=1, y=np.zeros((0, 2))), "y must have shape (m, 2) with m ≥ 1"),
    ("log_prob", dict(n=1, y=np.zeros((0, 2))), "y must have shape (m, 2) with m ≥ 1"),
    ("log_prob", dict(n=NAN, y=PTS), "n must be an integer"),
    ("sample", dict(n=1, m=2.5, rng=RNG), "m must be an integer"),
    ("push", dict(x0=np.zeros((0, 2)), n=1), "x0 must have shape"),
    (sep.direct_minimisation, dict(n=1, seed=2.5), "seed must be an integer"),
    (sep.direct_minimisation, dict(n=1, max_iter=2.5), "max_iter must be an integer"),
    (sep.direct_minimisation, dict(n=1, max_iter=-1), "max_iter must be an integer >= 0"),
    (sep.compare_flow, dict(flow=None, x0=PTS), "flow must be a trained JKOFlow"),
    (sep.compare_flow, dict(flow=_Flow(), x0=np.full((20, 2), NAN), n_residual=10),
     "x0 must be finite"),
]


def _id(i, fn):
    return f"{i}-{fn if isinstance(fn, str) else getattr(fn, '__qualname__', 'call')}"


@pytest.mark.parametrize("fn, kwargs, fragment", STATIC,
                         ids=[_id(i, r[0]) for i, r in enumerate(STATIC)])
def test_separable_bad_input_names_the_argument(fn, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        fn(**kwargs)


@pytest.mark.parametrize("fn, kwargs, fragment", WITH_REF,
                         ids=[_id(i, r[0]) for i, r in enumerate(WITH_REF)])
def test_separable_reference_bad_input_names_the_argument(ref, fn, kwargs, fragment):
    call = getattr(ref, fn) if isinstance(fn, str) else (lambda **kw: fn(ref=ref, **kw))
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call(**kwargs)


def test_every_public_name_of_separable_is_swept():
    names = {getattr(r[0], "__qualname__", "").split(".")[0] for r in STATIC + WITH_REF}
    names |= {"SeparableJKO", "DirectCheck"}  # built by separable_jko / direct_minimisation
    missing = set(sep.__all__) - names
    assert not missing, sorted(missing)
