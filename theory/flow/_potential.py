r"""The target potential V of :math:`q = e^{-V}/Z`: its value and its gradient in one object.

Training uses V (the V-term :math:`\mathbb E\,V(T(x))` of the block loss, docs/theory.md §1), the
Assumption-1 residual uses :math:`\nabla V` (docs/theory.md §2, docs/numerics.md §6.5); one
:class:`Potential` carries both so that the two can never disagree. Claims C12, C13.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["Potential", "as_potential", "quadratic_potential"]

TensorMap = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Potential:
    r"""A potential :math:`V:\mathbb R^d\to\mathbb R` applied row-wise, with its gradient.

    Calling the object returns V. :meth:`gradient` returns :math:`\nabla V`, from ``grad`` when
    given, otherwise by autograd of ``value``.

    Attributes:
        value: ``(n, d) tensor -> (n,) tensor``, V at each row (nats, since q = e^{-V}/Z).
        grad: ``(n, d) tensor -> (n, d) tensor``, :math:`\nabla V` at each row, or ``None``
            (autograd).
        name: a label for reprs and checkpoint fingerprints.

    Example:
        >>> import torch
        >>> v = Potential(lambda y: (y**4).sum(dim=1) / 4)
        >>> v.gradient(torch.tensor([[2.0, -1.0]], dtype=torch.float64)).tolist()
        [[8.0, -1.0]]
    """

    value: TensorMap
    grad: TensorMap | None = None
    name: str = "V"

    def __post_init__(self) -> None:
        """Validate the fields (``ValueError`` naming a bad one)."""
        if not callable(self.value):
            raise ValueError(f"value must be callable, got {self.value!r}")
        if self.grad is not None and not callable(self.grad):
            raise ValueError(f"grad must be callable or None, got {self.grad!r}")
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a str, got {self.name!r}")

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        """Return V(y) of shape (n,) for y of shape (n, d)."""
        return self.value(y)

    def gradient(self, y: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`\nabla V(y)` of shape (n, d), detached from any graph through ``y``."""
        if self.grad is not None:
            return self.grad(y)
        with torch.enable_grad():
            yg = y.detach().requires_grad_(True)
            return torch.autograd.grad(self.value(yg).sum(), yg)[0].detach()


def _half_square(y: torch.Tensor) -> torch.Tensor:
    return 0.5 * (y * y).sum(dim=1)


def _identity(y: torch.Tensor) -> torch.Tensor:
    return y


#: :math:`V(y) = |y|^2/2`, :math:`\nabla V(y) = y`: the target q = N(0, I) of every experiment.
quadratic_potential = Potential(_half_square, _identity, "quadratic |y|^2/2")


def as_potential(potential: Potential | TensorMap) -> Potential:
    """Return ``potential`` as a :class:`Potential` (a plain callable V gets an autograd gradient).

    Raises:
        ValueError: if ``potential`` is not callable.
    """
    if isinstance(potential, Potential):
        return potential
    if not callable(potential):
        raise ValueError(f"potential must be a Potential or a callable V, got {potential!r}")
    return Potential(potential, None, getattr(potential, "__name__", "V"))
