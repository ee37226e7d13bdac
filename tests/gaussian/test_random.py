"""Tests of theory.gaussian random test cases: Haar rotations and SPD matrices with a spectrum.

Oracles: orthogonality Q Qᵀ = I, numpy eigvalsh of the built matrix, reproducibility by seed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given

from tests import strategies as S
from tests.tolerances import STEP_ROUNDOFF_RTOL
from theory.gaussian import random_rotation, spd_with_eigs


@given(d=S.dims(1, 12), seed=S.seeds)
def test_random_rotation_is_orthogonal_and_seeded(d, seed):
    q = random_rotation(np.random.default_rng(seed), d)
    np.testing.assert_allclose(q @ q.T, np.eye(d), atol=STEP_ROUNDOFF_RTOL)
    np.testing.assert_array_equal(q, random_rotation(np.random.default_rng(seed), d))


@given(d=S.dims(1, 12), seed=S.seeds)
def test_spd_with_eigs_has_the_spectrum(d, seed):
    eigs = np.geomspace(0.1, 10.0, d)
    c = spd_with_eigs(np.random.default_rng(seed), eigs)
    np.testing.assert_allclose(np.linalg.eigvalsh(0.5 * (c + c.T)), eigs,
                               atol=STEP_ROUNDOFF_RTOL * eigs.max())


def test_spd_with_eigs_draws_one_rotation():
    """The stream contract the experiments rely on: one (d, d) normal draw per matrix."""
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    spd_with_eigs(a, [1.0, 2.0, 3.0])
    b.standard_normal((3, 3))
    assert a.random() == b.random()
