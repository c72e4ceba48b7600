"""The front of a table network: scaling, clipping and numeric embeddings.

Every transform here is a torch module whose statistics are buffers fitted on the
training rows (:meth:`FeatureScaler.fit`, :meth:`PiecewiseLinearEmbedding.fit`), so
that a saved network carries its preprocessing and an exported one applies it.

* :class:`FeatureScaler`: per-column centring and scaling (RealMLP's robust scaling,
  a quantile transform to normal scores, or standardisation), then RealMLP's smooth
  clipping ``x / sqrt(1 + (x / c) ** 2)``;
* :class:`PeriodicEmbedding`: RealMLP's "PBLD" numeric embedding, per column
  ``[linear(cos(2 pi w x + b)), x]`` (Holzmüller et al., 2024), a variant of the
  periodic embeddings of Gorishniy et al. (2022);
* :class:`PiecewiseLinearEmbedding`: the piecewise-linear encoding of quantile bins
  followed by a per-column linear map, TabM's "version B" embedding (Gorishniy et al.,
  2022 and 2025).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: What :class:`FeatureScaler` may do to each column before clipping.
SCALINGS = ("robust", "quantile", "standard", None)


def smooth_clip(x: torch.Tensor, bound: float) -> torch.Tensor:
    """RealMLP's smooth clipping: ``x / sqrt(1 + (x / bound) ** 2)``.

    About the identity near 0, tending to ``+-bound`` for large ``|x|``: an outlier
    keeps its order without dominating the first layer.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.features import smooth_clip
    >>> [round(v, 3) for v in smooth_clip(torch.tensor([0.0, 1.0, 1e6]), 3.0).tolist()]
    [0.0, 0.949, 3.0]
    """
    return x * torch.rsqrt(1.0 + (x / bound) ** 2)


def weighted_quantile(
    x: torch.Tensor, levels: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Quantiles of each column of ``x`` under row weights: ``(len(levels), n_cols)``
    (``levels`` of shape ``(n_cols, n_levels)`` gives each column its own levels).

    The quantile at level ``q`` is the mean of the smallest value whose cumulative
    weight share reaches ``q`` and the smallest one whose share exceeds it (the
    usual median of an even number of rows). It depends on the weighted empirical
    distribution only: a row of weight 2 counts as the row twice, a row of weight 0
    as no row, and rescaling the weights changes nothing.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.features import weighted_quantile
    >>> x = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    >>> weighted_quantile(x, torch.tensor([0.5], dtype=torch.float64)).item()
    2.5
    >>> w = torch.tensor([0.0, 3.0, 1.0, 1.0], dtype=torch.float64)  # as [2, 2, 2, 3, 4]
    >>> weighted_quantile(x, torch.tensor([0.5], dtype=torch.float64), w).item()
    2.0
    """
    xs, share = sorted_shares(x, weight)
    return quantiles_of_sorted(xs, share, levels).T


def sorted_shares(
    x: torch.Tensor, weight: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each column of ``x`` sorted, ``(n_cols, n)``, and the cumulative share of the
    weight at each sorted value (float64, ending at 1)."""
    n = x.shape[0]
    w = torch.ones(n, dtype=torch.float64) if weight is None else weight
    xs, order = x.sort(dim=0)
    share = w.to(torch.float64)[order].cumsum(0)
    share = share / share[-1:].clamp_min(1e-300)
    return xs.T.contiguous(), share.T.contiguous()


def quantiles_of_sorted(
    xs: torch.Tensor, share: torch.Tensor, levels: torch.Tensor
) -> torch.Tensor:
    """:func:`weighted_quantile` from :func:`sorted_shares`: ``(n_cols, n_levels)``."""
    n = xs.shape[1]
    q = levels.to(torch.float64)
    q = (q if q.ndim == 2 else q[None, :].expand(xs.shape[0], -1)).contiguous()
    lo = torch.searchsorted(share, q, right=False).clamp_max(n - 1)
    hi = torch.searchsorted(share, q, right=True).clamp_max(n - 1)
    return 0.5 * (xs.gather(1, lo) + xs.gather(1, hi))


def _weighted_moments(
    x: torch.Tensor, weight: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and (population) standard deviation of each column."""
    if weight is None:
        return x.mean(0), x.std(0, correction=0)
    w = (weight / weight.sum()).to(x.dtype)[:, None]
    mean = (w * x).sum(0)
    return mean, ((w * (x - mean) ** 2).sum(0)).sqrt()


class FeatureScaler(nn.Module):
    """Centre, scale and smoothly clip each column, with statistics fitted on data.

    Parameters
    ----------
    n_features : int
        Number of columns.
    scaling : {"robust", "quantile", "standard", None}, default="robust"
        ``"robust"``: subtract the median, divide by the interquartile range (by
        half the range when the quartiles coincide; a constant column becomes 0), as
        RealMLP does. ``"quantile"``: map each column through its empirical
        quantiles to normal scores (scikit-learn's ``QuantileTransformer(
        output_distribution="normal")``, piecewise linear between the quantiles).
        ``"standard"``: subtract the mean, divide by the standard deviation.
        ``None``: leave the values.
    clip : float or None, default=3.0
        Bound of :func:`smooth_clip` after scaling; ``None`` does not clip.
    n_quantiles : int, default=256
        Quantiles kept per column for ``scaling="quantile"``.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.features import FeatureScaler
    >>> x = torch.tensor([[1.0], [2.0], [3.0], [4.0], [1000.0]])
    >>> scaler = FeatureScaler(1, clip=None).fit(x)
    >>> scaler(x).ravel().tolist()  # median 3, quartiles 2 and 4
    [-1.0, -0.5, 0.0, 0.5, 498.5]
    """

    def __init__(
        self,
        n_features: int,
        scaling: str | None = "robust",
        clip: float | None = 3.0,
        n_quantiles: int = 256,
    ) -> None:
        super().__init__()
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}; got {scaling!r}.")
        self.scaling, self.clip = scaling, clip
        q = n_quantiles if scaling == "quantile" else 0
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("factor", torch.ones(n_features))
        self.register_buffer("knots", torch.zeros(n_features, q))
        self.register_buffer("levels", torch.zeros(q))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> FeatureScaler:
        """Fit the statistics on the rows ``x`` of shape ``(n, n_features)``, each
        row counting ``weight`` times (rows of weight 0 are left out)."""
        x = x.to(self.center.dtype)
        if weight is not None:
            x, weight = x[weight > 0], weight[weight > 0]
        if self.scaling == "robust":
            levels = torch.tensor([0.25, 0.5, 0.75], dtype=x.dtype)
            q = weighted_quantile(x, levels, weight)
            spread = q[2] - q[0]
            half_range = 0.5 * (x.amax(0) - x.amin(0))
            spread = torch.where(spread > 0, spread, half_range)
            self.center.copy_(q[1])
            self.factor.copy_(torch.where(spread > 0, 1.0 / spread, 0.0))
        elif self.scaling == "standard":
            mean, std = _weighted_moments(x, weight)
            self.center.copy_(mean)
            self.factor.copy_(torch.where(std > 0, 1.0 / std, 0.0))
        elif self.scaling == "quantile":
            n_q = self.knots.shape[1]
            levels = torch.linspace(0.0, 1.0, n_q, dtype=x.dtype)
            self.knots.copy_(weighted_quantile(x, levels, weight).T)
            self.levels.copy_(levels)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale and clip ``x`` of shape ``(n, n_features)``."""
        if self.scaling == "quantile" and self.knots.shape[1] > 1:
            x = self._quantile(x)
        elif self.scaling is not None:
            x = (x - self.center) * self.factor
        return x if self.clip is None else smooth_clip(x, self.clip)

    def _quantile(self, x: torch.Tensor) -> torch.Tensor:
        # The level of x, interpolated between the knots and averaged over the two
        # directions as scikit-learn's QuantileTransformer does: a value on a run of
        # tied knots (a discrete column) gets the middle level of the run.
        knots, levels = self.knots.to(x.dtype), self.levels.to(x.dtype)
        # Outside the fitted range: the level of the nearest end.
        xt = torch.minimum(torch.maximum(x.T, knots[:, :1]), knots[:, -1:]).contiguous()
        up = _interpolate(xt, knots, levels, right=True)
        down = _interpolate(xt, knots, levels, right=False)
        # The normal score of the level, within scikit-learn's bounds (+-5.2).
        level = (0.5 * (up + down)).clamp(1e-7, 1 - 1e-7)
        return (math.sqrt(2.0) * torch.erfinv(2 * level - 1)).T


def _interpolate(
    xt: torch.Tensor, knots: torch.Tensor, levels: torch.Tensor, *, right: bool
) -> torch.Tensor:
    """``levels`` interpolated at ``xt`` (per row of ``knots``), from the segment
    right of a tied value (``right=True``) or left of it."""
    n_q = knots.shape[1]
    idx = torch.searchsorted(knots, xt, right=right).clamp(1, n_q - 1)
    k0, k1 = knots.gather(1, idx - 1), knots.gather(1, idx)
    width = k1 - k0
    frac = ((xt - k0) / width.clamp_min(1e-30)).clamp(0.0, 1.0)
    frac = torch.where(width > 0, frac, 1.0 if right else 0.0)
    s0, s1 = levels[idx - 1], levels[idx]
    return s0 + frac * (s1 - s0)


class PeriodicEmbedding(nn.Module):
    """RealMLP's "PBLD" embedding of numeric columns.

    Each column ``x`` becomes ``[W2 cos(2 pi w1 x + b1) + b2, x]``: ``n_frequencies``
    periodic features with learnable frequencies and phases, a learnable linear map
    to ``dim - 1`` values, and the value itself (a "densenet" connection), so the
    network can use both the shape learnt for the column and its plain value.

    Parameters
    ----------
    n_features : int
        Number of columns embedded.
    dim : int, default=4
        Width of each column's embedding (the value included).
    n_frequencies : int, default=16
        Periodic features per column.
    sigma : float, default=0.1
        Standard deviation of the initial frequencies ``w1``.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.features import PeriodicEmbedding
    >>> emb = PeriodicEmbedding(3, dim=4)
    >>> out = emb(torch.randn(5, 3))
    >>> out.shape  # 3 columns x 4
    torch.Size([5, 12])
    """

    def __init__(
        self, n_features: int, dim: int = 4, n_frequencies: int = 16, sigma: float = 0.1
    ) -> None:
        super().__init__()
        if dim < 1 or n_frequencies < 1 or n_features < 1:
            raise ValueError("n_features, dim and n_frequencies must be >= 1.")
        self.n_features, self.dim, self.sigma = n_features, dim, float(sigma)
        m, d = n_frequencies, dim - 1
        self.frequencies = nn.Parameter(sigma * torch.randn(n_features, m))
        self.phases = nn.Parameter(math.pi * (2 * torch.rand(n_features, m) - 1))
        bound = 1.0 / math.sqrt(m)
        self.weight = nn.Parameter(bound * (2 * torch.rand(n_features, m, d) - 1))
        self.bias = nn.Parameter(bound * (2 * torch.rand(n_features, d) - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` of shape ``(n, n_features)`` into ``(n, n_features * dim)``."""
        z = torch.cos(
            2 * math.pi * x.T[:, :, None] * self.frequencies[:, None, :]
            + self.phases[:, None, :]
        )
        lin = torch.baddbmm(self.bias[:, None, :], z, self.weight)  # (F, n, d)
        out = torch.cat([lin, x.T[:, :, None]], dim=2)  # (F, n, dim)
        return out.permute(1, 0, 2).reshape(x.shape[0], -1)


class PiecewiseLinearEmbedding(nn.Module):
    """TabM's piecewise-linear embedding of numeric columns ("version B").

    Each column is cut into up to ``n_bins`` bins at its quantiles (fitted with
    :meth:`fit`); its piecewise-linear encoding ``[1, ..., 1, (x - left) / width,
    0, ..., 0]`` goes through a per-column linear map (initialised at zero) that is
    added to a per-column linear embedding of the value, so that training starts
    from the plain linear embedding and learns the piecewise part.

    Parameters
    ----------
    n_features : int
        Number of columns embedded.
    dim : int, default=16
        Width of each column's embedding.
    n_bins : int, default=48
        Most bins per column (a column with fewer distinct values gets fewer).

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.features import PiecewiseLinearEmbedding
    >>> x = torch.randn(100, 2)
    >>> emb = PiecewiseLinearEmbedding(2, dim=3, n_bins=4).fit(x)
    >>> emb.encode(torch.tensor([[0.0, 100.0]])).shape, emb(x).shape
    (torch.Size([1, 2, 4]), torch.Size([100, 6]))
    """

    def __init__(self, n_features: int, dim: int = 16, n_bins: int = 48) -> None:
        super().__init__()
        if dim < 1 or n_bins < 1 or n_features < 1:
            raise ValueError("n_features, dim and n_bins must be >= 1.")
        self.n_features, self.dim, self.n_bins = n_features, dim, n_bins
        bound = dim**-0.5
        self.linear_weight = nn.Parameter(bound * (2 * torch.rand(n_features, dim) - 1))
        self.linear_bias = nn.Parameter(bound * (2 * torch.rand(n_features, dim) - 1))
        self.weight = nn.Parameter(torch.zeros(n_features, n_bins, dim))
        # Encoding: component j of column i is clamp(x * slope[i, j] + shift[i, j]);
        # the first is not clamped below, the last not above (columns with fewer bins
        # leave zeros in the middle).
        self.register_buffer("slope", torch.zeros(n_features, n_bins))
        self.register_buffer("shift", torch.zeros(n_features, n_bins))
        self.register_buffer("single", torch.zeros(n_features, dtype=torch.bool))

    @torch.no_grad()
    def fit(
        self, x: torch.Tensor, weight: torch.Tensor | None = None
    ) -> PiecewiseLinearEmbedding:
        """Set the bins from the (weighted) quantiles of ``x``, ``(n, n_features)``."""
        x = x.to(self.slope.dtype)
        if weight is not None:
            x, weight = x[weight > 0], weight[weight > 0]
        levels = torch.linspace(0.0, 1.0, self.n_bins + 1, dtype=x.dtype)
        return self.set_bins(list(weighted_quantile(x, levels, weight).T))

    @torch.no_grad()
    def set_bins(self, bins: list[torch.Tensor]) -> PiecewiseLinearEmbedding:
        """Set each column's bin edges (sorted; repeated edges count once)."""
        if len(bins) != self.n_features:
            raise ValueError(f"{len(bins)} bin edges for {self.n_features} columns.")
        self.slope.zero_()
        self.shift.zero_()
        for i, edges in enumerate(bins):
            edges = torch.unique(edges.to(self.slope.dtype))[: self.n_bins + 1]
            if len(edges) < 2:  # a constant column: one bin of width 1
                edges = torch.stack([edges[0], edges[0] + 1])
            width = edges.diff()
            slope, shift = 1.0 / width, -edges[:-1] / width
            n = len(width)
            self.slope[i, -1], self.shift[i, -1] = slope[-1], shift[-1]
            self.slope[i, : n - 1], self.shift[i, : n - 1] = slope[:-1], shift[:-1]
            self.single[i] = n == 1
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The piecewise-linear encoding, ``(n, n_features, n_bins)``."""
        z = torch.addcmul(self.shift, self.slope, x[..., None])
        if z.shape[-1] == 1:
            return z
        last = z[..., -1:]
        last = torch.where(self.single[:, None], last, last.clamp_min(0.0))
        return torch.cat(
            [z[..., :1].clamp_max(1.0), z[..., 1:-1].clamp(0.0, 1.0), last], dim=-1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` of shape ``(n, n_features)`` into ``(n, n_features * dim)``."""
        linear = torch.addcmul(self.linear_bias, self.linear_weight, x[..., None])
        ple = torch.bmm(self.encode(x).transpose(0, 1), self.weight)  # (F, n, dim)
        return (linear + ple.transpose(0, 1)).reshape(x.shape[0], -1)
