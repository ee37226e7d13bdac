r"""Independent cross-checks of a trained flow's densities (docs/numerics.md §6.3, §6.8; C9).

The flow's log-determinant is the RK4 integral of the exact divergence
(:func:`~theory.flow.integrate`). Three checks that share no log-det code with it, or test it
through a second route:

- :func:`discrete_logdet`: :math:`\log|\det\nabla T_S(x)|` of the *discrete* RK4 block map
  :math:`T_S` (autograd Jacobian of the S-step map, ``torch.linalg.slogdet``), beside the
  integrated log-det ℓ. The two differ only by the RK4 truncation of ℓ, :math:`O(S^{-4})`
  (measured: 2e-8 at S = 6, 5e-11 at S = 24 for a random 64-64 block), so at fine S they agree
  to round-off; wrong RK4 weights in ℓ leave an O(1/S) or O(1) gap.
- :func:`importance_mass`: :math:`\int\hat q = \mathbb E_{x\sim r}[\hat q(x)/r(x)]` by importance
  sampling from a known proposal r (1 for a normalised density; a sign error in the log-det
  multiplies it by :math:`e^{-2\ell}`).
- :func:`jacobian_asymmetry`: the size of the antisymmetric part of a map's Jacobian relative to
  :math:`\|J - I\|`. An optimal-transport map has a symmetric Jacobian, so this measures how far a
  trained block is from an OT map (docs/numerics.md §6.5).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike

from theory.flow._block import check_points
from theory.flow._convert import to_numpy
from theory.flow._jacobian import batch_jacobian
from theory.validate import as_finite_array, check_int

__all__ = ["discrete_logdet", "importance_mass", "jacobian_asymmetry"]


def discrete_logdet(block, x: torch.Tensor, *, steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Integrated log-det ℓ(x) and :math:`\log|\det\nabla T_S(x)|` of the discrete block map.

    Args:
        block: a :class:`~theory.flow.Block` (use a float64 copy for reported numbers).
        x ((n, d) tensor): evaluation points.
        steps (int ≥ 1): RK4 steps S of the map and of ℓ.

    Returns:
        ``(ell, slogdet)``: two (n,) float64 arrays, ℓ by the RK4-integrated exact divergence and
        the log-abs-determinant of the autograd Jacobian of the S-step map.

    Raises:
        ValueError: on a bad ``steps``, naming ``x`` unless it is a finite (n, d) tensor with
            n >= 1, or if some Jacobian has a
            non-positive determinant (the map would not be orientation preserving).
    """
    steps = check_int(steps, "steps", minimum=1)
    check_points(x, "x", None)
    xs = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y, ell = block(xs, steps=steps, create_graph=True)
        jac = batch_jacobian(y, xs)
    sign, logabs = torch.linalg.slogdet(jac.detach())
    if bool((sign <= 0).any()):
        raise ValueError("x: the block's Jacobian has a non-positive determinant at some point")
    return to_numpy(ell), to_numpy(logabs)


def importance_mass(log_f: ArrayLike, log_r: ArrayLike) -> tuple[float, float]:
    r"""Total mass :math:`\int f` by importance sampling from a normalised proposal r.

    Args:
        log_f ((n,)): log f at samples of r.
        log_r ((n,)): log r at the same samples.

    Returns:
        ``(estimate, standard error)`` of :math:`\mathbb E_r[f/r]`.

    Raises:
        ValueError: naming ``log_f`` / ``log_r`` on non-finite inputs, mismatched lengths or
            fewer than 2 samples, or if f/r overflows float64.
    """
    lf = as_finite_array(log_f, "log_f").ravel()
    lr = as_finite_array(log_r, "log_r").ravel()
    if lf.shape != lr.shape or lf.size < 2:
        raise ValueError(f"log_f and log_r must have one length >= 2, got {lf.size}, {lr.size}")
    with np.errstate(over="ignore"):
        w = np.exp(lf - lr)
    if not np.all(np.isfinite(w)):
        raise ValueError("log_f - log_r > ~709 at some sample: f/r overflows float64")
    return float(w.mean()), float(w.std(ddof=1) / np.sqrt(w.size))


def jacobian_asymmetry(jac: torch.Tensor | ArrayLike) -> float:
    r"""Antisymmetric part of Jacobians relative to their distance from the identity.

    .. math::
        \frac{\big(\mathrm{mean}_k\|(J_k - J_k^\top)/2\|_F^2\big)^{1/2}}
             {\big(\mathrm{mean}_k\|J_k - I\|_F^2\big)^{1/2}}

    0 for an optimal-transport map (symmetric Jacobian); at most 1.

    Args:
        jac ((n, d, d)): Jacobians at n points.

    Returns:
        The ratio (0 when every J equals I).

    Raises:
        ValueError: if ``jac`` is not a finite (n, d, d) array.
    """
    j = to_numpy(jac)
    if j.ndim != 3 or j.shape[1] != j.shape[2] or j.shape[0] < 1:
        raise ValueError(f"jac must have shape (n, d, d), got {j.shape}")
    if not np.all(np.isfinite(j)):
        raise ValueError("jac contains NaN or inf")
    anti = 0.5 * (j - np.swapaxes(j, 1, 2))
    dev = j - np.eye(j.shape[1])
    den = float(np.sqrt((dev**2).sum((1, 2)).mean()))
    if den == 0.0:
        return 0.0
    return float(np.sqrt((anti**2).sum((1, 2)).mean())) / den
