"""Embeddings of categorical columns in front of any network that reads a flat vector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class TabularInput(nn.Module):
    """Embed category codes, join them to the numeric columns, run ``body``.

    The network of an estimator fitted on a raw DataFrame
    (:class:`sknn.data.tables.TableEncoder`): each categorical column's codes have
    their own embedding, whose code 0 ("not seen at fit") is all zeros and never
    trained, so an unseen category adds nothing; the embeddings and the numeric block
    are concatenated into one vector of ``n_numeric + sum(embedding_dims)`` features,
    which ``body`` reads.

    The embeddings of all columns are packed in one ``weight`` matrix (one lookup and
    one backward pass per batch, not one per column): column ``c``'s codes
    ``1 .. n_c - 1`` are rows ``offsets[c] + 1 ..`` of it, row 0 is the shared zero
    row of unseen codes, and a column narrower than the widest uses the first
    ``embedding_dims[c]`` entries of its rows (the others stay zero: no output reads
    them, so no gradient reaches them). :meth:`embedding` returns one column's table.

    Parameters
    ----------
    body : torch.nn.Module
        The network after the embeddings (an :class:`~sknn.modules.MLP`, or a user's
        module built with ``n_features_in`` equal to :attr:`width`).
    n_numeric : int
        Width of the numeric block.
    cardinalities : sequence of int
        Number of codes of each categorical column (code 0 included).
    embedding_dims : sequence of int
        Embedding width of each categorical column.

    Attributes
    ----------
    width : int
        The number of features ``body`` reads.
    weight : torch.nn.Parameter
        The packed embeddings, ``(1 + sum(n_c - 1), max(embedding_dims))``.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import MLP, TabularInput
    >>> net = TabularInput(MLP(2 + 3, 1, hidden_layer_sizes=(8,)), 2, [4], [3])
    >>> net(torch.zeros(5, 2), torch.tensor([[0], [1], [2], [3], [1]])).shape
    torch.Size([5, 1])
    >>> net.embedding(0).shape, bool((net.embedding(0)[0] == 0).all())
    (torch.Size([4, 3]), True)
    """

    def __init__(
        self,
        body: nn.Module,
        n_numeric: int,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
    ) -> None:
        super().__init__()
        cards = [int(n) for n in cardinalities]
        dims = [int(d) for d in embedding_dims]
        if len(cards) != len(dims):
            raise ValueError(
                f"{len(cards)} categorical columns but {len(dims)} embedding widths."
            )
        if any(n < 1 for n in cards) or any(d < 1 for d in dims):
            raise ValueError("Cardinalities and embedding widths must be >= 1.")
        self.n_numeric = int(n_numeric)
        self.cardinalities, self.embedding_dims = cards, dims
        self.width = self.n_numeric + sum(dims)
        starts = np.cumsum([0] + [n - 1 for n in cards])
        widest = max(dims, default=0)
        weight = torch.randn(int(starts[-1]) + 1, widest)  # nn.Embedding's init
        weight[0] = 0.0
        for c, d in enumerate(dims):
            weight[starts[c] + 1 : starts[c + 1] + 1, d:] = 0.0
        self.weight = nn.Parameter(weight)
        # Derived from the arguments: rebuilt, not saved.
        self.register_buffer(
            "offsets", torch.as_tensor(starts[:-1], dtype=torch.long), persistent=False
        )
        keep = [c * widest + j for c, d in enumerate(dims) for j in range(d)]
        self.register_buffer(
            "keep", torch.as_tensor(keep, dtype=torch.long), persistent=False
        )
        self.body = body

    def embedding(self, column: int) -> torch.Tensor:
        """The ``(n_codes, width)`` embedding table of categorical column ``column``
        (row 0 is the zero row of unseen codes)."""
        start = int(self.offsets[column])
        rows = self.weight[start + 1 : start + self.cardinalities[column]]
        table = torch.cat([self.weight[:1], rows])
        return table[:, : self.embedding_dims[column]]

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """Run the network on a numeric block and a block of category codes."""
        if not self.cardinalities:
            return self.body(numeric)
        rows = (categorical + self.offsets) * (categorical > 0)  # unseen: row 0
        packed = F.embedding(rows, self.weight, padding_idx=0)
        embedded = packed.reshape(len(categorical), -1).index_select(1, self.keep)
        return self.body(torch.cat([numeric, embedded.to(numeric.dtype)], dim=1))
