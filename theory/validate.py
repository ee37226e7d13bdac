"""The project's one set of input validators: every public function checks its input here.

Each validator returns the value converted (float, int, float64 array) or raises a
``ValueError`` that names the offending argument, so bad input never becomes a silent NaN.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_finite_array",
    "as_matrix",
    "as_nonneg_array",
    "as_positive_array",
    "as_vector",
    "check_choice",
    "check_finite_scalar",
    "check_int",
    "check_nonneg_scalar",
    "check_positive_scalar",
]

#: Relative asymmetry tolerated in an input covariance (products like ``A @ S @ A`` are not
#: exactly symmetric in floating point).
SYM_RTOL = 1e-8


def _as_float_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """``np.asarray(x, dtype=float64)``, with a named error for booleans and non-numbers."""
    if isinstance(x, (bool, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric, got a boolean {x!r}")
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {x!r}") from None


def _scalar(value: float, name: str, what: str) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return v


def check_finite_scalar(value: float, name: str) -> float:
    """Return ``value`` as a float after checking that it is a finite number (any sign).

    Raises:
        ValueError: naming ``name`` if the value is not a finite number (NaN, inf, a bool, ...).
    """
    return _scalar(value, name, "a finite number")


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` after checking that it is one of ``choices``.

    Raises:
        ValueError: naming ``name`` and listing the valid choices.
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_positive_scalar(value: float, name: str) -> float:
    """Return ``value`` as a float after checking that it is finite and > 0.

    Raises:
        ValueError: naming ``name`` if the value is not a finite positive number.
    """
    v = _scalar(value, name, "a finite positive number")
    if v <= 0.0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return v


def check_nonneg_scalar(value: float, name: str) -> float:
    """Return ``value`` as a float after checking that it is finite and >= 0.

    Raises:
        ValueError: naming ``name`` if the value is not a finite number >= 0.
    """
    v = _scalar(value, name, "a finite number >= 0")
    if v < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_int(value: int, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as an int after checking that it is an integer (not 2.7, not a bool).

    Integral floats such as ``3.0`` are accepted.

    Raises:
        ValueError: naming ``name`` if the value is not an integer or is below ``minimum``.
    """
    bad = isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
    if not bad and not isinstance(value, numbers.Integral):
        bad = not (math.isfinite(value) and float(value).is_integer())
    if bad:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return v


def as_finite_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a non-empty float64 array with finite entries.

    Raises:
        ValueError: naming ``name`` if ``x`` is empty, not numeric, or has NaN/inf entries.
    """
    a = _as_float_array(x, name)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty finite array")
    return a


def as_positive_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a float64 array after checking every entry is finite and > 0.

    Raises:
        ValueError: naming ``name`` otherwise.
    """
    a = _as_float_array(x, name)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {x!r}")
    return a


def as_nonneg_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a float64 array after checking every entry is finite and >= 0.

    Raises:
        ValueError: naming ``name`` otherwise.
    """
    a = _as_float_array(x, name)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {x!r}")
    return a


def as_vector(x: ArrayLike, name: str, d: int | None = None) -> NDArray[np.float64]:
    """Return ``x`` as a finite float64 vector of shape ``(d,)`` with ``d >= 1``.

    Raises:
        ValueError: naming ``name`` for a wrong shape (an empty vector: dimension 0 included) or
            non-finite entries.
    """
    v = _as_float_array(x, name)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {v.shape}")
    if v.shape[0] == 0:
        raise ValueError(f"{name} must have dimension d >= 1, got an empty vector")
    if d is not None and v.shape[0] != d:
        raise ValueError(f"{name} must have length {d}, got {v.shape[0]}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} has non-finite entries")
    return v


def as_matrix(c: ArrayLike, name: str, d: int | None = None) -> NDArray[np.float64]:
    """Return ``c`` as a finite, symmetric float64 ``(d, d)`` matrix, ``d >= 1`` (symmetrised).

    Raises:
        ValueError: naming ``name`` if ``c`` is not square, is ``(0, 0)`` (dimension 0), has the
            wrong size, has non-finite entries, or is not symmetric to relative tolerance
            :data:`SYM_RTOL`.
    """
    m = _as_float_array(c, name)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {m.shape}")
    if m.shape[0] == 0:
        raise ValueError(f"{name} must have dimension d >= 1, got shape {m.shape}")
    if d is not None and m.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d}, {d}), got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} has non-finite entries")
    scale = np.abs(m).max()
    if np.abs(m - m.T).max(initial=0.0) > SYM_RTOL * max(scale, np.finfo(float).tiny):
        raise ValueError(f"{name} is not symmetric (max |{name} - {name}.T| is too large)")
    return 0.5 * (m + m.T)
