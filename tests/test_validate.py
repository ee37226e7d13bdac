"""theory/validate.py: every validator accepts good input and names the argument on bad input.

Oracles are literal expected values (the validators only convert and check).
"""

import numpy as np
import pytest

from theory.validate import (
    SYM_RTOL,
    as_finite_array,
    as_matrix,
    as_nonneg_array,
    as_positive_array,
    as_vector,
    check_choice,
    check_finite_scalar,
    check_int,
    check_nonneg_scalar,
    check_positive_scalar,
)

NAN, INF = float("nan"), float("inf")
NOT_NUMBERS = ["abc", None, True, False, np.bool_(True), [1.0], {}]

# ----------------------------------------------------------------------------------------------
# Scalars
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [(2.5, 2.5), (3, 3.0), (np.float32(0.5), 0.5),
                                             (np.int64(7), 7.0), (1e-300, 1e-300)])
def test_check_positive_scalar_accepts(value, expected):
    out = check_positive_scalar(value, "gamma")
    assert type(out) is float and out == expected


@pytest.mark.parametrize("value", [0.0, -0.0, -1.0, NAN, INF, -INF, *NOT_NUMBERS])
def test_check_positive_scalar_rejects_naming_argument(value):
    with pytest.raises(ValueError, match=r"^gamma must be a finite positive number"):
        check_positive_scalar(value, "gamma")


@pytest.mark.parametrize("value, expected", [(0.0, 0.0), (0, 0.0), (2.5, 2.5),
                                             (np.float64(1e-3), 1e-3)])
def test_check_nonneg_scalar_accepts(value, expected):
    out = check_nonneg_scalar(value, "eps")
    assert type(out) is float and out == expected


@pytest.mark.parametrize("value", [-1e-300, -1.0, NAN, INF, -INF, *NOT_NUMBERS])
def test_check_nonneg_scalar_rejects_naming_argument(value):
    with pytest.raises(ValueError, match=r"^eps must be a finite number >= 0"):
        check_nonneg_scalar(value, "eps")


@pytest.mark.parametrize("value, expected", [(-2.5, -2.5), (0, 0.0), (np.float32(0.5), 0.5)])
def test_check_finite_scalar_accepts_any_sign(value, expected):
    out = check_finite_scalar(value, "mean")
    assert type(out) is float and out == expected


@pytest.mark.parametrize("value", [NAN, INF, -INF, *NOT_NUMBERS])
def test_check_finite_scalar_rejects_naming_argument(value):
    with pytest.raises(ValueError, match=r"^mean must be a finite number"):
        check_finite_scalar(value, "mean")


def test_check_choice_accepts_a_listed_option():
    assert check_choice("rk4", "method", ("rk4", "euler")) == "rk4"


@pytest.mark.parametrize("value", ["RK4", "", None, 4])
def test_check_choice_rejects_naming_argument_and_options(value):
    with pytest.raises(ValueError, match=r"^method must be one of 'rk4', 'euler'"):
        check_choice(value, "method", ("rk4", "euler"))


@pytest.mark.parametrize("value, expected", [(3, 3), (0, 0), (-2, -2), (3.0, 3),
                                             (np.int64(5), 5), (np.float64(4.0), 4)])
def test_check_int_accepts_integers_and_integral_floats(value, expected):
    out = check_int(value, "n_steps")
    assert type(out) is int and out == expected


@pytest.mark.parametrize("value", [2.7, -0.5, NAN, INF, "3", None, True, False,
                                   np.bool_(False), [3]])
def test_check_int_rejects_naming_argument(value):
    with pytest.raises(ValueError, match=r"^n_steps must be an integer, got"):
        check_int(value, "n_steps")


def test_check_int_minimum():
    assert check_int(1, "n_steps", minimum=1) == 1
    with pytest.raises(ValueError, match=r"^n_steps must be an integer >= 1, got 0"):
        check_int(0, "n_steps", minimum=1)


# ----------------------------------------------------------------------------------------------
# Arrays
# ----------------------------------------------------------------------------------------------


def test_as_finite_array_accepts_and_converts():
    out = as_finite_array([1, -2, 3], "x")
    assert out.dtype == np.float64 and out.tolist() == [1.0, -2.0, 3.0]
    assert as_finite_array(np.float32(2.0), "x").dtype == np.float64


@pytest.mark.parametrize("bad", [[], [1.0, NAN], [INF], [[1.0], [-INF]], "abc", None,
                                 np.array([True, False]), True])
def test_as_finite_array_rejects_naming_argument(bad):
    with pytest.raises(ValueError, match=r"^samples "):
        as_finite_array(bad, "samples")


@pytest.mark.parametrize("func, good, bad_values, message", [
    (as_positive_array, [1e-300, 2.0], [[1.0, 0.0], [-1.0], [NAN], [INF]], "finite and > 0"),
    (as_nonneg_array, [0.0, 2.0], [[1.0, -1e-300], [NAN], [INF]], "finite and >= 0"),
])
def test_sign_checked_arrays(func, good, bad_values, message):
    out = func(good, "lam")
    assert out.dtype == np.float64 and out.tolist() == good
    assert func(np.int64(3), "lam").shape == ()  # scalars broadcast like arrays
    for bad in bad_values:
        with pytest.raises(ValueError, match=rf"^lam must be {message}"):
            func(bad, "lam")
    for bad in ("abc", None, True, np.array([True])):
        with pytest.raises(ValueError, match=r"^lam must be "):
            func(bad, "lam")


def test_as_vector():
    out = as_vector([1, 2, 3], "m", 3)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]
    assert as_vector(np.zeros(4), "m").shape == (4,)
    for bad, match in [(np.zeros((2, 2)), "m must be a 1-D array"), (2.0, "m must be a 1-D"),
                       ([1.0, 2.0], "m must have length 3"), ([1.0, NAN, 0.0], "m has non-fin"),
                       ([INF, 1.0, 0.0], "m has non-finite"), ("abc", "m must be an array"),
                       (np.array([True, False, True]), "m must be numeric")]:
        with pytest.raises(ValueError, match=rf"^{match}"):
            as_vector(bad, "m", 3)


def test_as_matrix_symmetrises_within_tolerance():
    c = np.array([[2.0, 1.0], [1.0 + SYM_RTOL, 2.0]])  # asymmetry SYM_RTOL/2 of the scale 2
    out = as_matrix(c, "cov", 2)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, out.T)
    assert out[0, 1] == 0.5 * (c[0, 1] + c[1, 0])


@pytest.mark.parametrize("bad, match", [
    (np.ones((2, 3)), "cov must be a square matrix"),
    (np.ones(3), "cov must be a square matrix"),
    (np.eye(3), r"cov must have shape \(2, 2\)"),
    (np.array([[1.0, NAN], [NAN, 1.0]]), "cov has non-finite"),
    (np.array([[INF, 0.0], [0.0, 1.0]]), "cov has non-finite"),
    (np.array([[1.0, 0.5], [0.5 + 1e-6, 1.0]]), "cov is not symmetric"),
    ("abc", "cov must be an array of numbers"),
    (np.eye(2, dtype=bool), "cov must be numeric"),
])
def test_as_matrix_rejects_naming_argument(bad, match):
    with pytest.raises(ValueError, match=rf"^{match}"):
        as_matrix(bad, "cov", 2)
