"""The autouse fixture of tests/conftest.py: every test starts from the same torch RNG state.

Oracle: a private ``torch.Generator`` seeded with the same seed. torch seeds its global
generator randomly per process, so without the fixture these tests fail (almost surely).
"""

import torch

from tests.conftest import TORCH_SEED


def _expected(n: int) -> torch.Tensor:
    return torch.rand(n, generator=torch.Generator().manual_seed(TORCH_SEED))


def test_a_test_that_consumes_rng_and_changes_dtype():
    assert torch.equal(torch.rand(4), _expected(4))
    torch.rand(1000)
    torch.manual_seed(1)
    torch.set_default_dtype(torch.float64)


def test_the_next_test_starts_from_the_seeded_state_again():
    """Runs after the test above (file order): nothing it did is visible here."""
    assert torch.get_default_dtype() == torch.float32
    assert torch.equal(torch.rand(4), _expected(4))
