"""Feed positional input tensors to a module that takes them by keyword."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class KeywordInputs(nn.Module):
    """Call ``module(**dict(zip(names, inputs)))`` from positional inputs.

    The training engine and the inference path call a network with positional
    tensors; a module whose ``forward`` takes named inputs (fitted on a
    :class:`sknn.data.MultiInput` built from a dict) is wrapped in this class, so that
    every part of sknn runs it unchanged. The wrapped module is the attribute
    ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        The user's network; its ``forward`` takes the inputs by keyword.
    names : sequence of str
        The keyword of each positional input, in order.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import KeywordInputs
    >>> class Sum(torch.nn.Module):
    ...     def forward(self, a, b):
    ...         return a + 2 * b
    >>> net = KeywordInputs(Sum(), ["b", "a"])
    >>> net(torch.ones(1), torch.zeros(1))
    tensor([2.])
    """

    def __init__(self, module: nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.module = module
        self.names = tuple(names)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module(**dict(zip(self.names, inputs)))

    def extra_repr(self) -> str:
        return f"names={list(self.names)}"
