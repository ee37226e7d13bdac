"""Tests of theory/spd.py: validation, clamped spectra, matrix functions.

Oracles: reconstruction identities (U diag(w) U^T = C, S @ S = C with S symmetric PSD, which
determines the PSD square root uniquely), Cholesky log-determinant, numpy's matrix_rank.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies as S
from tests.tolerances import (
    EIG_2X2_RTOL,
    LOGDET_ATOL_PER_DIM,
    LOGDET_RTOL,
    RANK_RTOL,
    SPD_FUNC_RTOL,
    SPD_RECON_RTOL,
)
from theory.spd import spectrum
from theory.validate import as_matrix, as_vector, check_positive_scalar


@given(c=S.data_covariances())
def test_spectrum_reconstructs_and_is_orthonormal(c):
    """Oracle: U diag(w) U^T = C, U^T U = I, w ascending and >= 0."""
    s = spectrum(c)
    scale = np.linalg.norm(c, 2)
    np.testing.assert_allclose((s.u * s.w) @ s.u.T, c, atol=SPD_RECON_RTOL * scale)
    np.testing.assert_allclose(s.u.T @ s.u, np.eye(s.d), atol=SPD_RECON_RTOL)
    assert np.all(s.w >= 0.0) and np.all(np.diff(s.w) >= 0.0)


@given(c=S.spd_matrices())
def test_sqrt_and_inverse_sqrt_identities(c):
    """Oracle: R symmetric PSD with R R = C (unique), and C^{-1/2} C C^{-1/2} = I."""
    s = spectrum(c)
    r = s.sqrt()
    np.testing.assert_array_equal(r, r.T)
    assert np.linalg.eigvalsh(r).min() > 0
    np.testing.assert_allclose(r @ r, c, atol=SPD_FUNC_RTOL * np.linalg.norm(c, 2))
    ri = s.inv_sqrt()
    np.testing.assert_allclose(ri @ c @ ri, np.eye(s.d), atol=SPD_FUNC_RTOL)
    np.testing.assert_allclose(s.inv() @ c, np.eye(s.d), atol=SPD_FUNC_RTOL)


@given(c=S.spd_matrices())
def test_logdet_matches_cholesky(c):
    """Oracle: log det C = 2 sum log diag(chol(C))."""
    ref = 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(c))))
    assert spectrum(c).logdet() == pytest.approx(ref, rel=LOGDET_RTOL,
                                             abs=LOGDET_ATOL_PER_DIM * c.shape[0])


@given(c=S.singular_psd_matrices())
def test_singular_matrix_detected(c):
    """Oracle: numpy's SVD rank; a singular matrix has logdet -inf, no inverse, finite sqrt."""
    s = spectrum(c)
    assert s.is_singular and s.rank == np.linalg.matrix_rank(c, tol=RANK_RTOL * np.abs(c).max())
    assert s.logdet() == -np.inf
    assert np.all(np.isfinite(s.sqrt()))
    with pytest.raises(ValueError, match="mycov"):
        s.inv_sqrt("mycov")
    with pytest.raises(ValueError, match="mycov"):
        s.inv("mycov")


def test_roundoff_negative_eigenvalue_is_clamped_not_rejected():
    """An eigenvalue of -1e-14 relative is zero up to round-off: clamped to exactly 0."""
    c = np.diag([1.0, -1e-14])
    s = spectrum(c)
    assert s.w.tolist() == [0.0, 1.0] and s.is_singular


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ones((2, 3)), "square"),
        (np.ones(3), "square"),
        (np.array([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
        (np.diag([1.0, -1.0]), "positive semi-definite"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), "non-finite"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), "non-finite"),
    ],
)
def test_bad_matrices_raise_naming_argument(bad, match):
    with pytest.raises(ValueError, match=f"^mycov .*{match}"):
        spectrum(bad, "mycov")


def test_zero_matrix_is_a_valid_dirac():
    """The zero matrix (a Dirac mass, data without density) is valid PSD data of rank 0."""
    s = spectrum(np.zeros((3, 3)))
    assert s.rank == 0 and s.is_singular and s.logdet() == -np.inf
    np.testing.assert_array_equal(s.sqrt(), np.zeros((3, 3)))


def test_dimension_check():
    with pytest.raises(ValueError, match="cov must have shape"):
        spectrum(np.eye(2), "cov", d=3)
    with pytest.raises(ValueError, match="m must have length 3"):
        as_vector([1.0, 2.0], "m", 3)
    with pytest.raises(ValueError, match="m must be a 1-D"):
        as_vector(np.zeros((2, 2)), "m")
    with pytest.raises(ValueError, match="m has non-finite"):
        as_vector([1.0, np.nan], "m")


@pytest.mark.parametrize("value", [0.0, -1.0, np.nan, np.inf, "abc", None])
def test_check_positive_scalar_rejects(value):
    with pytest.raises(ValueError, match="gamma"):
        check_positive_scalar(value, "gamma")


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.float64])
def test_float64_out_for_any_input_dtype(dtype):
    c = np.array([[2, 1], [1, 2]], dtype=dtype)
    s = spectrum(c)
    assert s.w.dtype == np.float64 and s.u.dtype == np.float64
    assert as_matrix(c, "c").dtype == np.float64
    assert as_vector(np.array([1, 2], dtype=dtype), "m").dtype == np.float64
    np.testing.assert_allclose(s.w, [1.0, 3.0], rtol=EIG_2X2_RTOL)


@given(c=S.data_covariances(d_max=8), seed=st.integers(0, 10))
def test_reproducible_bit_identical(c, seed):
    a, b = spectrum(c), spectrum(c.copy())
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.u, b.u)
