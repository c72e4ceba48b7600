"""A table network: RealMLP's front and layers in a TabM-style ensemble of k members.

:class:`TabularNet` reads a float block (numbers, missing-value indicators, ranks) and
a block of category codes, as :class:`sknn.data.tables.TableEncoder` writes them, or
a plain float array. In order:

1. categorical columns with few categories are one-hot encoded (code 0, a category
   not seen at fit, is all zeros; a two-category column is one ``+-1`` value); the
   others get learnt embeddings;
2. the numbers and the one-hot columns are centred, scaled and smoothly clipped
   (:class:`~sknn.modules.features.FeatureScaler`);
3. continuous columns get a numeric embedding (periodic or piecewise-linear);
4. a learnable diagonal scaling of every input feature (RealMLP's "front scale");
5. hidden layers in the neural-tangent-kernel parametrisation (weights ``~ N(0, 1)``
   times ``1 / sqrt(fan_in)``), with parametric activations and dropout, shared by
   ``k`` members that differ by per-member scalings of each layer's inputs and
   outputs and their own biases and heads (BatchEnsemble, as TabM uses it);
6. in training the output holds each member's prediction, ``(n, k, n_outputs)``,
   so that each member's loss is trained; in evaluation the members are averaged,
   probabilities for classifiers (the output is then the logit of the average),
   values for regressors (clipped to the training range when bounds are set).

The first-layer scalings start at random signs (random normals when the columns are
embedded, one value per column's embedding), the others at one (TabM's
initialisation); :meth:`TabularNet.init_from_data` fits the preprocessing and
initialises each layer from the training rows (RealMLP's data-dependent
initialisation: unit-variance pre-activations, biases through the data).

References: Holzmüller, Grinsztajn and Steinwart, "Better by default: strong
pre-tuned MLPs and boosted trees on tabular data", NeurIPS 2024 (RealMLP);
Gorishniy, Kotelnikov and Babenko, "TabM: advancing tabular deep learning with
parameter-efficient ensembling", ICLR 2025.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sknn.modules.activations import make_activation
from sknn.modules.batch_ensemble import (
    EnsembleHead,
    EnsembleLinear,
    ParametricActivation,
    init_head,
    init_layer,
)
from sknn.modules.features import (
    FeatureScaler,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
)

#: Numeric embeddings of :class:`TabularNet`.
NUMERIC_EMBEDDINGS = ("periodic", "piecewise_linear", None)
#: Kinds of parameter-efficient ensembles of :class:`TabularNet`.
ENSEMBLE_TYPES = ("batch", "mini")
#: How :class:`TabularNet` averages its members in evaluation.
OUTPUTS = ("softmax", "sigmoid", "identity")


class TabularNet(nn.Module):
    """RealMLP-style layers in a TabM-style ensemble, for tables (see the module doc).

    Parameters
    ----------
    n_numeric : int
        Width of the float block.
    n_outputs : int
        Outputs of each member.
    cardinalities : sequence of int, default=()
        Number of codes of each categorical column (code 0 included).
    one_hot : sequence of bool, default=()
        Per categorical column: one-hot encoded (else embedded).
    continuous : sequence of bool, optional
        Per numeric column: whether it gets the numeric embedding (``None``: all).
        Binary columns (indicators, booleans) are better passed as they are.
    ignored : sequence of bool, optional
        Per numeric column: left out of the network (``None``: none).
    embedding_dim : int, default=8
        Width of each embedded categorical column.
    hidden_layer_sizes : sequence of int, default=(256, 256, 256)
        Widths of the hidden layers.
    activation : str, default="selu"
        Hidden activation (:data:`sknn.modules.ACTIVATIONS`).
    parametric_activation : bool, default=True
        Learn how linear each unit is (:class:`ParametricActivation`).
    dropout : float, default=0.0
        Dropout probability after each hidden activation; the attribute may be
        changed between steps (a schedule).
    ensemble_size : int, default=1
        Number of members ``k``.
    numeric_embedding : {"periodic", "piecewise_linear", None}, default="periodic"
        Embedding of the continuous columns.
    numeric_embedding_dim : int, default=4
        Width of each continuous column's embedding.
    n_frequencies : int, default=16
        Periodic features per column (``"periodic"``).
    frequency_scale : float, default=0.1
        Standard deviation of the initial frequencies (``"periodic"``).
    n_bins : int, default=48
        Bins per column (``"piecewise_linear"``).
    scaling : {"robust", "quantile", "standard", None}, default="robust"
        See :class:`~sknn.modules.features.FeatureScaler`.
    clip : float or None, default=3.0
        Smooth-clipping bound after scaling.
    feature_scaling : bool, default=True
        The learnable diagonal scaling of the first layer's inputs.
    output : {"softmax", "sigmoid", "identity"}, default="identity"
        How the members are averaged in evaluation: probabilities of a softmax or
        of sigmoids (the output is their logit), or values.
    ensemble_type : {"batch", "mini"}, default="batch"
        ``"batch"``: every layer has per-member input and output scalings and
        biases (TabM); ``"mini"``: only the first layer's inputs are scaled per
        member, the layers are otherwise shared (TabM-mini, about half the
        element-wise work).

    Attributes
    ----------
    out_low, out_high : torch.Tensor
        Bounds of the evaluation output for ``output="identity"`` (the largest
        float32 until :meth:`set_output_bounds`).

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import TabularNet
    >>> net = TabularNet(3, 2, cardinalities=[4, 30], one_hot=[True, False],
    ...                  hidden_layer_sizes=(16,), ensemble_size=4, output="softmax")
    >>> x, codes = torch.randn(10, 3), torch.randint(0, 4, (10, 2))
    >>> net.init_from_data(x, codes)
    >>> net(x, codes).shape  # training: one prediction per member
    torch.Size([10, 4, 2])
    >>> net.eval()(x, codes).softmax(1).sum(1).allclose(torch.ones(10))
    True
    """

    def __init__(
        self,
        n_numeric: int,
        n_outputs: int,
        *,
        cardinalities: Sequence[int] = (),
        one_hot: Sequence[bool] = (),
        continuous: Sequence[bool] | None = None,
        ignored: Sequence[bool] | None = None,
        embedding_dim: int = 8,
        hidden_layer_sizes: Sequence[int] = (256, 256, 256),
        activation: str = "selu",
        parametric_activation: bool = True,
        dropout: float = 0.0,
        ensemble_size: int = 1,
        numeric_embedding: str | None = "periodic",
        numeric_embedding_dim: int = 4,
        n_frequencies: int = 16,
        frequency_scale: float = 0.1,
        n_bins: int = 48,
        scaling: str | None = "robust",
        clip: float | None = 3.0,
        feature_scaling: bool = True,
        output: str = "identity",
        ensemble_type: str = "batch",
    ) -> None:
        super().__init__()
        cards = [int(c) for c in cardinalities]
        hot = [bool(h) for h in one_hot]
        if len(cards) != len(hot):
            raise ValueError(
                f"{len(cards)} categorical columns but {len(hot)} one-hot flags."
            )
        if any(c < 1 for c in cards) or n_numeric < 0 or n_outputs < 1:
            raise ValueError("Cardinalities must be >= 1 and n_outputs >= 1.")
        if numeric_embedding not in NUMERIC_EMBEDDINGS:
            raise ValueError(
                f"numeric_embedding must be one of {NUMERIC_EMBEDDINGS}; got "
                f"{numeric_embedding!r}."
            )
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}.")
        if ensemble_type not in ENSEMBLE_TYPES:
            raise ValueError(
                f"ensemble_type must be one of {ENSEMBLE_TYPES}; got {ensemble_type!r}."
            )
        cont = (
            [True] * n_numeric if continuous is None else [bool(c) for c in continuous]
        )
        skip = [False] * n_numeric if ignored is None else [bool(i) for i in ignored]
        if len(cont) != n_numeric or len(skip) != n_numeric:
            raise ValueError(
                f"{n_numeric} numeric columns but {len(cont)} continuous and "
                f"{len(skip)} ignored flags."
            )
        self.n_numeric, self.k, self.output = int(n_numeric), int(ensemble_size), output
        if self.k < 1:
            raise ValueError(f"ensemble_size must be >= 1; got {ensemble_size}.")
        self.dropout = float(dropout)

        # One-hot columns: code c of column j is slot start_j + c - 1 (code 0: none);
        # a two-category column is one slot, +1 / -1.
        self._hot = [j for j, h in enumerate(hot) if h]
        self._emb = [j for j, h in enumerate(hot) if not h]
        widths = [1 if cards[j] == 3 else max(cards[j] - 1, 0) for j in self._hot]
        starts = np.cumsum([0, *widths])[:-1]
        slot, value = [], []
        for j, w, s in zip(self._hot, widths, starts):
            for code in range(cards[j]):
                if code == 0:
                    slot.append(s if w else 0)
                    value.append(0.0)
                elif w == 1 and cards[j] == 3:
                    slot.append(s)
                    value.append(1.0 if code == 1 else -1.0)
                else:
                    slot.append(s + code - 1)
                    value.append(1.0)
        self.n_one_hot = int(sum(widths))
        code_offsets = np.cumsum([0] + [cards[j] for j in self._hot])[:-1]
        self.register_buffer(
            "hot_columns", torch.as_tensor(self._hot, dtype=torch.long), False
        )
        self.register_buffer(
            "hot_offsets", torch.as_tensor(code_offsets, dtype=torch.long), False
        )
        self.register_buffer("hot_slot", torch.as_tensor(slot, dtype=torch.long), False)
        self.register_buffer("hot_value", torch.as_tensor(value), False)

        # Embedded categorical columns: one packed table, row 0 the zero row of
        # unseen codes (never trained).
        emb_cards = [cards[j] for j in self._emb]
        self.register_buffer(
            "emb_columns", torch.as_tensor(self._emb, dtype=torch.long), False
        )
        emb_starts = np.cumsum([0] + [c - 1 for c in emb_cards])
        self.register_buffer(
            "emb_offsets", torch.as_tensor(emb_starts[:-1], dtype=torch.long), False
        )
        self.embedding_dim = int(embedding_dim) if self._emb else 0
        self.embeddings = (
            nn.Parameter(torch.randn(int(emb_starts[-1]) + 1, self.embedding_dim))
            if self._emb
            else None
        )
        if self.embeddings is not None:
            with torch.no_grad():
                self.embeddings[0] = 0.0

        # Dense block: numbers then one-hot slots; continuous ones are embedded.
        n_dense = self.n_numeric + self.n_one_hot
        self.scaler = FeatureScaler(n_dense, scaling=scaling, clip=clip)
        dense_cont = [c and not s for c, s in zip(cont, skip)] + [
            False
        ] * self.n_one_hot
        dense_skip = skip + [False] * self.n_one_hot
        cont_idx = [i for i, c in enumerate(dense_cont) if c]
        rest_idx = [i for i, c in enumerate(dense_cont) if not c and not dense_skip[i]]
        if numeric_embedding is None or not cont_idx:
            cont_idx, rest_idx = [], [i for i in range(n_dense) if not dense_skip[i]]
        self._select_rest = len(rest_idx) != n_dense
        self.register_buffer(
            "cont_idx", torch.as_tensor(cont_idx, dtype=torch.long), False
        )
        self.register_buffer(
            "rest_idx", torch.as_tensor(rest_idx, dtype=torch.long), False
        )
        self.numeric_embedding: nn.Module | None = None
        d_cont = 0
        if cont_idx and numeric_embedding == "periodic":
            self.numeric_embedding = PeriodicEmbedding(
                len(cont_idx),
                dim=numeric_embedding_dim,
                n_frequencies=n_frequencies,
                sigma=frequency_scale,
            )
            d_cont = numeric_embedding_dim
        elif cont_idx:
            self.numeric_embedding = PiecewiseLinearEmbedding(
                len(cont_idx), dim=numeric_embedding_dim, n_bins=n_bins
            )
            d_cont = numeric_embedding_dim
        chunks = [d_cont] * len(cont_idx) + [1] * len(rest_idx)
        chunks += [self.embedding_dim] * len(self._emb)
        d_in = sum(chunks)
        if d_in == 0:
            raise ValueError("The network has no input features.")
        self.width = d_in
        self.front_scale = nn.Parameter(torch.ones(d_in)) if feature_scaling else None

        layers, acts, width = [], [], d_in
        for i, size in enumerate(hidden_layer_sizes):
            init = "ones"
            if i == 0:
                init = "normal" if d_cont else "random-signs"
            if ensemble_type == "batch":
                scalings = "batch"
            else:
                scalings = "input" if i == 0 else "none"
            layers.append(
                EnsembleLinear(
                    width,
                    int(size),
                    self.k,
                    scaling_init=init,
                    chunks=chunks if i == 0 else None,
                    scalings=scalings,
                )
            )
            acts.append(
                ParametricActivation(activation, int(size))
                if parametric_activation
                else make_activation(activation)
            )
            width = int(size)
        self.layers = nn.ModuleList(layers)
        self.activations = nn.ModuleList(acts)
        self.head = EnsembleHead(width, n_outputs, self.k)
        # No bounds until set: the largest float32 (finite, so that the engine's
        # check that every tensor of a fitted network is finite holds).
        big = torch.full((n_outputs,), torch.finfo(torch.float32).max)
        self.register_buffer("out_low", -big)
        self.register_buffer("out_high", big.clone())

    # ------------------------------------------------------------------ forward
    def features(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The first layer's input, ``(n, width)``: scaled, clipped, embedded."""
        parts = []
        dense = numeric
        if self.n_one_hot:
            hot = self.features_one_hot(numeric, categorical)
            dense = torch.cat([numeric, hot], dim=1)
        dense = self.scaler(dense)
        if self.numeric_embedding is not None:
            parts.append(self.numeric_embedding(dense.index_select(1, self.cont_idx)))
            parts.append(dense.index_select(1, self.rest_idx))
        elif self._select_rest:
            parts.append(dense.index_select(1, self.rest_idx))
        else:
            parts.append(dense)
        if self.embeddings is not None:
            codes = categorical.index_select(1, self.emb_columns)
            rows = (codes + self.emb_offsets) * (codes > 0)
            emb = F.embedding(rows, self.embeddings, padding_idx=0)
            parts.append(emb.reshape(numeric.shape[0], -1).to(numeric.dtype))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return x if self.front_scale is None else x * self.front_scale

    def members(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Each member's raw output, ``(n, k, n_outputs)``."""
        x = self.features(numeric, categorical)
        if self.k > 1:
            x = x[:, None, :].expand(-1, self.k, -1)
        for layer, act in zip(self.layers, self.activations):
            x = act(layer(x))
            if self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, training=True)
        out = self.head(x)
        return out if self.k > 1 else out[:, None, :]

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Members' outputs ``(n, k, n_outputs)`` in training; in evaluation their
        average, ``(n, n_outputs)`` (see the module doc)."""
        out = self.members(numeric, categorical)
        return out if self.training else self.average(out)

    def average(self, out: torch.Tensor) -> torch.Tensor:
        """Average members' outputs ``(n, k, n_outputs)`` as the module doc says."""
        if self.output == "identity":
            mean = out.mean(1)
            return torch.minimum(torch.maximum(mean, self.out_low), self.out_high)
        if out.shape[1] == 1:
            return out[:, 0]
        log_k = math.log(out.shape[1])
        if self.output == "softmax":
            return torch.logsumexp(F.log_softmax(out, dim=2), dim=1) - log_k
        pos = torch.logsumexp(F.logsigmoid(out), dim=1)
        neg = torch.logsumexp(F.logsigmoid(-out), dim=1)
        return pos - neg

    # ------------------------------------------------------------------ fitting
    def set_output_bounds(self, low, high) -> None:
        """Clip the averaged evaluation output to ``[low, high]`` (per output)."""
        with torch.no_grad():
            self.out_low.copy_(torch.as_tensor(low, dtype=self.out_low.dtype))
            self.out_high.copy_(torch.as_tensor(high, dtype=self.out_high.dtype))

    @torch.no_grad()
    def init_from_data(
        self,
        numeric: torch.Tensor,
        categorical: torch.Tensor | None = None,
        weight: torch.Tensor | None = None,
        *,
        max_rows: int = 1024,
    ) -> None:
        """Fit the preprocessing on the rows and initialise the layers from them.

        The scaler (and the bins of a piecewise-linear embedding) see every row;
        the layers see up to ``max_rows`` of them (drawn with torch's generator):
        each layer's weights are scaled so that its pre-activations have unit
        variance on the rows (RealMLP's ``"std"`` initialisation), and each unit's
        bias puts its kink at a random quantile of its pre-activations, so that
        every unit starts with data on both sides (as RealMLP's ``"he+5"`` does,
        with a quantile in place of a convex combination of 5 rows). Rows count
        ``weight`` times (sample weights); statistics depend on the weighted rows
        only, so a row of weight 2 initialises as the row twice does.
        """
        dtype = self.scaler.center.dtype
        numeric = numeric.to(dtype)
        if weight is not None:
            keep = weight > 0
            numeric, weight = numeric[keep], weight[keep].to(torch.float64)
            categorical = None if categorical is None else categorical[keep]
        dense = numeric
        if self.n_one_hot:
            hot = self.features_one_hot(numeric, categorical)
            dense = torch.cat([numeric, hot], dim=1)
        self.scaler.fit(dense, weight)
        if isinstance(self.numeric_embedding, PiecewiseLinearEmbedding):
            scaled = self.scaler(dense).index_select(1, self.cont_idx)
            self.numeric_embedding.fit(scaled, weight)
        n = numeric.shape[0]
        if n > max_rows:
            rows = torch.randperm(n)[:max_rows]
            numeric = numeric[rows]
            categorical = None if categorical is None else categorical[rows]
            weight = None if weight is None else weight[rows]
        x = self.features(numeric, categorical)
        if self.k > 1:
            x = x[:, None, :].expand(-1, self.k, -1)
        for layer, act in zip(self.layers, self.activations):
            x = act(init_layer(layer, x, weight))
        init_head(self.head, x, weight)

    def features_one_hot(
        self, numeric: torch.Tensor, categorical: torch.Tensor
    ) -> torch.Tensor:
        """The one-hot slots of ``categorical``, ``(n, n_one_hot)``."""
        codes = categorical.index_select(1, self.hot_columns) + self.hot_offsets
        return torch.zeros(
            numeric.shape[0], self.n_one_hot, dtype=numeric.dtype, device=numeric.device
        ).scatter_add_(1, self.hot_slot[codes], self.hot_value.to(numeric.dtype)[codes])

    def parameter_groups(self) -> list[dict]:
        """The parameters by role, with RealMLP's learning-rate and weight-decay
        factors (``lr_scale``, ``wd_scale``): the weights of each layer
        ``1 / sqrt(fan_in)`` (the NTK parametrisation, see :class:`EnsembleLinear`)
        and 1; biases 0.1 and 0; the front scale 6 and 1; activation slopes and
        numeric embeddings 0.1 and 1; category embeddings 1 and 1; the
        members' scalings 0.1 and 0 (at the base rate, they overshoot: each step
        would move every input of every member by a few percent)."""
        groups: list[dict] = []

        def add(role, params, lr, wd):
            params = [p for p in params if p is not None and p.requires_grad]
            if params:
                groups.append(
                    {"params": params, "lr_scale": lr, "wd_scale": wd, "role": role}
                )

        for i, layer in enumerate([*self.layers, self.head]):
            add(f"weights{i}", [layer.weight], layer.lr_scale, 1.0)
        biases = [layer.bias for layer in [*self.layers, self.head]]
        add("biases", biases, 0.1, 0.0)
        add("front_scale", [self.front_scale], 6.0, 1.0)
        add("activations", list(self.activations.parameters()), 0.1, 1.0)
        if self.numeric_embedding is not None:
            add(
                "numeric_embedding", list(self.numeric_embedding.parameters()), 0.1, 1.0
            )
        add("embeddings", [self.embeddings], 1.0, 1.0)
        scalings = [getattr(layer, n, None) for layer in self.layers for n in "rs"]
        add("scalings", scalings, 0.1, 0.0)
        return groups
