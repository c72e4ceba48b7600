"""Embeddings of categorical columns in front of any network that reads a flat vector."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class TabularInput(nn.Module):
    """Embed category codes, join them to the numeric columns, run ``body``.

    The network of an estimator fitted on a raw DataFrame
    (:class:`sknn.data.tables.TableEncoder`): each categorical column's codes go
    through their own ``nn.Embedding``, whose row 0 ("not seen at fit") is all zeros
    and never trained, so an unseen category adds nothing; the embeddings and the
    numeric block are concatenated into one vector of ``n_numeric +
    sum(embedding_dims)`` features, which ``body`` reads.

    Parameters
    ----------
    body : torch.nn.Module
        The network after the embeddings (an :class:`~sknn.modules.MLP`, or a user's
        module built with ``n_features_in`` equal to :attr:`width`).
    n_numeric : int
        Width of the numeric block.
    cardinalities : sequence of int
        Number of codes of each categorical column.
    embedding_dims : sequence of int
        Embedding width of each categorical column.

    Attributes
    ----------
    width : int
        The number of features ``body`` reads.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import MLP, TabularInput
    >>> net = TabularInput(MLP(2 + 3, 1, hidden_layer_sizes=(8,)), 2, [4], [3])
    >>> net(torch.zeros(5, 2), torch.tensor([[0], [1], [2], [3], [1]])).shape
    torch.Size([5, 1])
    """

    def __init__(
        self,
        body: nn.Module,
        n_numeric: int,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
    ) -> None:
        super().__init__()
        if len(cardinalities) != len(embedding_dims):
            raise ValueError(
                f"{len(cardinalities)} categorical columns but {len(embedding_dims)} "
                "embedding widths."
            )
        self.n_numeric = int(n_numeric)
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(n), int(d), padding_idx=0)
            for n, d in zip(cardinalities, embedding_dims)
        )
        self.width = self.n_numeric + sum(int(d) for d in embedding_dims)
        self.body = body

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """Run the network on a numeric block and a block of category codes."""
        if not self.embeddings:
            return self.body(numeric)
        parts = [numeric] + [
            emb(categorical[:, i]).to(numeric.dtype)
            for i, emb in enumerate(self.embeddings)
        ]
        return self.body(torch.cat(parts, dim=1))
