r"""The reverse pass of an affine flow: composed approximate inverses and their Lipschitz prefixes.

Claims C9, C11 (docs/theory.md L1, R7; docs/numerics.md §2.5). For approximate inverses
:math:`S_n \approx T_n^{-1}` of the blocks of a flow, the reverse pass is
:math:`S = S_1\circ\cdots\circ S_N` (apply :math:`S_N` first) and the telescoping bound reads

.. math::
    \|S\circ T - \mathrm{Id}\|_{L^2(P)}
    \le \sum_{n=1}^N \mathrm{Lip}(S_1\circ\cdots\circ S_{n-1})\,\delta_n,\qquad
    \delta_n = \|S_n\circ T_n - \mathrm{Id}\|_{L^2(\rho_{n-1})}

(see :func:`theory.bounds.inversion_telescoping`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from theory.gaussian._affine import AffineMap

__all__ = ["compose_inverse", "lip_prefixes"]


def _check(s_list: Sequence[AffineMap]) -> None:
    if len(s_list) == 0:
        raise ValueError("s_list must contain at least one AffineMap")


def compose_inverse(s_list: Sequence[AffineMap]) -> AffineMap:
    r"""The composed reverse pass :math:`S = S_1\circ\cdots\circ S_N` (apply ``S_N`` first).

    Args:
        s_list (sequence of N >= 1 :class:`AffineMap`): ``S_1 .. S_N``, all of dimension d.

    Returns:
        AffineMap: S.

    Raises:
        ValueError: if ``s_list`` is empty.

    Example:
        >>> a, b = AffineMap(2.0 * np.eye(1), np.zeros(1)), AffineMap(np.eye(1), np.ones(1))
        >>> compose_inverse([a, b])(np.zeros(1)).tolist()  # a(b(0)) = 2 * (0 + 1)
        [2.0]
    """
    _check(s_list)
    out = AffineMap.identity(s_list[0].d)
    for s in reversed(s_list):
        out = out.then(s)
    return out


def lip_prefixes(s_list: Sequence[AffineMap]) -> NDArray[np.float64]:
    """``Lip(S_1∘…∘S_{n−1})`` for n = 1..N, exact operator norms (1 for n = 1).

    Args:
        s_list (sequence of N >= 1 :class:`AffineMap`): ``S_1 .. S_N``.

    Returns:
        (N,) float64 array: the Lipschitz constants of the prefixes, the weights of δ_n in the
        telescoping bound.

    Raises:
        ValueError: if ``s_list`` is empty.

    Example:
        >>> s = AffineMap(2.0 * np.eye(2), np.zeros(2))
        >>> lip_prefixes([s, s, s]).tolist()
        [1.0, 2.0, 4.0]
    """
    _check(s_list)
    lips, pref = [1.0], AffineMap.identity(s_list[0].d)
    for s in s_list[:-1]:
        pref = s.then(pref)  # S_1∘…∘S_k: apply S_k first, then the previous prefix
        lips.append(pref.lipschitz())
    return np.array(lips)
