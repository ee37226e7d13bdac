r"""Exact non-Gaussian JKO references in any dimension: rotated products of 1-D trajectories.

docs/theory.md P2, docs/numerics.md §7. For the target q = N(0, I_d) and data
:math:`\rho_0 = R_\#(\mu_1\otimes\cdots\otimes\mu_d)`, the JKO iterates stay rotated products of
the 1-D JKO trajectories of the marginals, so the 1-D Lagrangian solver gives, in any d and for
non-Gaussian marginals, the exact density, score, samples, KL and W2 to q of every iterate and
the OT map between consecutive iterates. This is the reference the neural flow is measured
against (claims C3, C4, C8, C9, C19 on the trained model; experiment ``neural_reference``)::

    import numpy as np
    from theory import separable as sep
    mu = sep.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6], name="bimodal")
    data = sep.RotatedProduct((mu, sep.StudentT1D(5.0)), sep.random_rotation(2, rng))
    ref = sep.separable_jko(data, gammas=[0.5] * 6)
    ref.kl, ref.w2_to_q, ref.log_prob(3, y), ref.score(3, y), ref.transport(3, x)

Modules: ``_marginals`` (1-D data laws with quantiles and exact torch densities), ``_spline``
(a 1-D iterate as a C² monotone map from N(0, 1)), ``_reference`` (the d-dimensional
trajectory), ``_direct`` (direct minimisation of the JKO objective over non-product maps in
d = 2, the check that the product is the minimiser), ``_compare`` (a trained neural flow
against the reference, block by block, with the split of its residual).
"""

from theory.separable._compare import compare_flow
from theory.separable._direct import DirectCheck, direct_minimisation
from theory.separable._marginals import Mixture1D, StudentT1D, mixture
from theory.separable._reference import (
    RotatedProduct,
    SeparableJKO,
    random_rotation,
    separable_jko,
)
from theory.separable._spline import QuantileSpline, adapted_grid

__all__ = [
    "DirectCheck",
    "Mixture1D",
    "QuantileSpline",
    "RotatedProduct",
    "SeparableJKO",
    "StudentT1D",
    "adapted_grid",
    "compare_flow",
    "direct_minimisation",
    "mixture",
    "random_rotation",
    "separable_jko",
]
