"""Recurrent networks (LSTM, GRU, Elman) for sequence-to-one prediction."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sknn.modules.activations import make_activation

#: Recurrent cells by name.
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

#: How the last recurrent layer's outputs become one vector per sequence.
POOLINGS = ("last", "mean", "max")


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}; choose from {POOLINGS}.")


def pool_steps(
    out: torch.Tensor, last: torch.Tensor, lengths: torch.Tensor | None, pooling: str
) -> torch.Tensor:
    """One vector per sequence from the outputs ``out`` ``(n, T, D)`` of every step.

    ``"last"`` returns ``last`` (each sequence's own last state); ``"mean"`` and
    ``"max"`` pool ``out`` over each sequence's own steps: with ``lengths``, the
    padded steps are never read.

    Examples
    --------
    >>> import torch
    >>> out = torch.tensor([[[1.0], [3.0], [9.0]], [[2.0], [4.0], [6.0]]])
    >>> lengths = torch.tensor([2, 3])
    >>> pool_steps(out, out[:, -1], lengths, "mean").ravel().tolist()
    [2.0, 4.0]
    >>> pool_steps(out, out[:, -1], lengths, "max").ravel().tolist()
    [3.0, 6.0]
    """
    _check_pooling(pooling)
    if pooling == "last":
        return last
    if lengths is None:
        return out.mean(dim=1) if pooling == "mean" else out.amax(dim=1)
    steps = torch.arange(out.shape[1], device=out.device)
    valid = (steps[None, :] < lengths.to(out.device)[:, None])[..., None]
    if pooling == "mean":
        total = out.masked_fill(~valid, 0.0).sum(dim=1)
        return total / lengths.to(out.device, out.dtype)[:, None]
    return out.masked_fill(~valid, float("-inf")).amax(dim=1)


class RecurrentBlock(nn.Module):
    """One recurrent layer over batch-first sequences, with packing for ragged batches.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
        Recurrent cell.
    input_size : int
        Features per step.
    hidden_size : int
        Hidden units per direction.
    bidirectional : bool, default=False
        Also read the sequences backwards.
    dropout : float, default=0.0
        Dropout on this layer's input (used between stacked layers).

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.rnn import RecurrentBlock
    >>> out, last = RecurrentBlock("gru", 3, 5)(torch.zeros(2, 7, 3), None)
    >>> out.shape, last.shape
    (torch.Size([2, 7, 5]), torch.Size([2, 5]))
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"Unknown cell {cell!r}; choose from {sorted(CELLS)}.")
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.rnn = CELLS[cell](
            input_size, hidden_size, batch_first=True, bidirectional=bidirectional
        )

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the outputs of every step ``(n, T, D * H)`` and the last state
        ``(n, D * H)`` (each sequence's own last step; the first for the backward
        direction). With ``lengths`` the batch is packed: padded steps are never read.
        """
        if self.dropout is not None:
            x = self.dropout(x)
        if lengths is None:
            out, h = self.rnn(x)
        elif not self.training and not torch.is_grad_enabled():
            out, h = self._by_length(x, lengths)
        else:
            packed = pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            out, h = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        return out, h.transpose(0, 1).reshape(x.shape[0], -1)

    def _by_length(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference over a ragged batch: the sequences of each length together,
        unpacked, in groups of at least 8 rows (the last repeated).

        A packed batch shrinks step by step as sequences end, down to one row, and
        matrix products of other sizes round differently: a sequence's prediction
        would depend on which others it is predicted with. Here it never does.
        """
        rnn, n, total = self.rnn, x.shape[0], x.shape[1]
        dirs = 2 if rnn.bidirectional else 1
        out = x.new_zeros(n, total, dirs * rnn.hidden_size)
        h_all = x.new_zeros(dirs * rnn.num_layers, n, rnn.hidden_size)
        lengths = lengths.cpu()
        for length in torch.unique(lengths).tolist():
            idx = (lengths == length).nonzero().squeeze(1)
            xs = x[idx.to(x.device), :length]
            m = xs.shape[0]
            if m < _MIN_GROUP:
                xs = torch.cat([xs, xs[-1:].expand(_MIN_GROUP - m, *xs.shape[1:])])
            o, h = rnn(xs)
            if isinstance(h, tuple):
                h = h[0]
            dev_idx = idx.to(x.device)
            out[dev_idx, :length] = o[:m]
            h_all[:, dev_idx] = h[:, :m]
        return out, h_all


_MIN_GROUP = 8


class RNN(nn.Module):
    """Stacked recurrent layers, then a dense head on the pooled states, then an output.

    Parameters
    ----------
    n_features_in : int
        Features per time step.
    n_outputs : int
        Width of the output layer (raw scores).
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell.
    hidden_size : int, default=64
        Hidden units per direction and layer.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Read sequences in both directions.
    pooling : {"last", "mean", "max"}, default="last"
        What the dense head sees: the last state of each sequence (its own last
        step; the first for the backward direction), or the mean or maximum of the
        last recurrent layer's outputs over the sequence's steps.
    dropout : float, default=0.0
        Dropout between recurrent layers, on the pooled states and after each dense
        hidden layer.
    hidden_layer_sizes : sequence of int, default=()
        Dense layers between the pooled states and the output.
    activation : str, default="relu"
        Activation of the dense layers.

    Attributes
    ----------
    blocks : torch.nn.ModuleList
        The body, in order: ``num_layers`` :class:`RecurrentBlock` then the dense
        hidden blocks.
    output : torch.nn.Linear
        The head.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import RNN
    >>> net = RNN(3, 2, cell="gru", hidden_size=8, num_layers=2, bidirectional=True)
    >>> net(torch.zeros(4, 10, 3)).shape
    torch.Size([4, 2])
    >>> net(torch.zeros(4, 10, 3), torch.tensor([10, 3, 1, 7])).shape
    torch.Size([4, 2])
    >>> RNN(3, 2, hidden_size=8, pooling="max")(torch.zeros(4, 10, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        n_features_in: int,
        n_outputs: int,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "relu",
        pooling: str = "last",
    ) -> None:
        super().__init__()
        _check_pooling(pooling)
        self.pooling = pooling
        blocks: list[nn.Module] = []
        width = n_features_in
        for i in range(num_layers):
            blocks.append(
                RecurrentBlock(
                    cell, width, hidden_size, bidirectional, dropout if i > 0 else 0.0
                )
            )
            width = hidden_size * (2 if bidirectional else 1)
        self.n_recurrent = num_layers
        self.last_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        for size in hidden_layer_sizes:
            layers: list[nn.Module] = [
                nn.Linear(width, size),
                make_activation(activation),
            ]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
            width = size
        self.blocks = nn.ModuleList(blocks)
        self.output = nn.Linear(width, n_outputs)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Raw output scores for ``x`` of shape ``(n, T, F)``; ``lengths`` (optional)
        gives each sequence's true length in a zero-padded batch."""
        h = x
        for i, block in enumerate(self.blocks):
            if i < self.n_recurrent:
                h, last = block(h, lengths)
                if i == self.n_recurrent - 1:
                    h = self.last_dropout(pool_steps(h, last, lengths, self.pooling))
            else:
                h = block(h)
        return self.output(h)
