"""Neural-flow tests run with one torch thread (2 shared cores), restored after each module."""

import pytest

from theory.flow import torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Scope ``torch.set_num_threads(1)`` to the module; the old count is restored after it."""
    with torch_threads(1):
        yield
