"""Save and restore the global random number generators, so reference functions have no side effects."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def preserved_global_rng(*, torch_too: bool = True) -> Iterator[None]:
    """Restore numpy's global RNG state (and torch's CPU generator) when the block exits.

    The chapter seeds and draws from the *global* generators (``np.random.seed``, ``torch.manual_seed``)
    and the reference must reproduce those streams bit for bit, so it has to use them too; this keeps
    the caller's state as it was.
    """
    np_state = np.random.get_state()
    torch_state = None
    if torch_too:
        import torch

        torch_state = torch.get_rng_state()
    try:
        yield
    finally:
        np.random.set_state(np_state)
        if torch_state is not None:
            import torch

            torch.set_rng_state(torch_state)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads, then restore the previous count.

    Floating-point results of training depend on the intra-op thread count (facts.md: 1 vs 2 threads
    differ from the second SGD step on), so a reference value must fix it.
    """
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
