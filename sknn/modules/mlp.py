"""The multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sknn.modules.activations import make_activation


class MLP(nn.Module):
    """A fully connected network: ``[Linear -> (BatchNorm) -> act -> (Dropout)] * L -> Linear``.

    Parameters
    ----------
    n_features_in : int
        Width of the input.
    n_outputs : int
        Width of the output layer (raw scores; the loss applies the link function).
    hidden_layer_sizes : sequence of int, default=(100,)
        Width of each hidden layer, as in scikit-learn's MLP.
    activation : str, default="relu"
        Hidden activation, see :data:`sknn.modules.ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Whether to normalise each hidden layer's pre-activations over the batch. The
        linear layers before batch norm then have no bias (batch norm's shift takes
        its place; a bias there would only be cancelled).

    Attributes
    ----------
    hidden : torch.nn.Sequential
        The body: one block (``nn.Sequential``) per hidden layer.
    output : torch.nn.Linear
        The head.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import MLP
    >>> MLP(3, 2, hidden_layer_sizes=(5, 5), dropout=0.1)(torch.ones(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        n_features_in: int,
        n_outputs: int,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        blocks = []
        width = n_features_in
        for size in hidden_layer_sizes:
            layers: list[nn.Module] = [nn.Linear(width, size, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
            width = size
        self.hidden = nn.Sequential(*blocks)
        self.output = nn.Linear(width, n_outputs)
        self._glorot_init(gain=2.0 if activation in ("logistic", "sigmoid") else 6.0)

    def _glorot_init(self, gain: float) -> None:
        """scikit-learn's initialisation: weights and biases uniform in
        ``+-sqrt(gain / (fan_in + fan_out))``."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                bound = (gain / (m.in_features + m.out_features)) ** 0.5
                nn.init.uniform_(m.weight, -bound, bound)
                if m.bias is not None:
                    nn.init.uniform_(m.bias, -bound, bound)

    @property
    def blocks(self) -> nn.Sequential:
        """The body blocks, in order (the same object as :attr:`hidden`)."""
        return self.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the raw output scores for a batch ``x`` of shape ``(n, n_features_in)``."""
        return self.output(self.hidden(x))
