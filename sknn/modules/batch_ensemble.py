"""The layers of a parameter-efficient ensemble and their data-dependent start.

:class:`EnsembleLinear` is a linear layer shared by ``k`` members that differ by their
own scalings and biases (BatchEnsemble, Wen et al., 2020, as TabM uses it),
:class:`EnsembleHead` one output layer per member, :class:`ParametricActivation`
RealMLP's learnt blend of an activation and the identity. :func:`init_layer` and
:func:`init_head` start them from the training rows (RealMLP's data-dependent
initialisation). :class:`~sknn.modules.TabularNet` is built from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sknn.modules.activations import make_activation
from sknn.modules.features import quantiles_of_sorted, sorted_shares


class EnsembleLinear(nn.Module):
    """A linear layer shared by ``k`` members, each with its own input and output
    scalings and bias (BatchEnsemble; Wen et al., 2020).

    ``y_k = ((x_k * r_k) @ W.T) * s_k + b_k``. With ``k=1`` there are no scalings and
    the input is ``(n, d_in)``; otherwise it is ``(n, k, d_in)``. ``W`` starts at
    ``N(0, 1 / d_in)``; :attr:`lr_scale` is ``1 / sqrt(d_in)``: with Adam, a weight
    trained at ``lr / sqrt(d_in)`` moves as a weight ``W' / sqrt(d_in)`` with
    ``W' ~ N(0, 1)`` trained at ``lr`` does, the neural-tangent-kernel
    parametrisation RealMLP uses, without a multiplication in every forward pass.

    Parameters
    ----------
    d_in, d_out : int
        Input and output widths.
    k : int, default=1
        Number of members.
    scaling_init : {"ones", "random-signs", "normal"}, default="ones"
        Initial values of the input scalings ``r`` (the output scalings start at 1).
    chunks : sequence of int, optional
        Groups of consecutive inputs that share their initial ``r`` (the values of
        one embedded column).
    scalings : {"batch", "input", "none"}, default="batch"
        Per-member parameters with ``k > 1``: ``"batch"``: input and output
        scalings and biases (BatchEnsemble); ``"input"``: input scalings only, the
        bias shared (the first layer of TabM-mini); ``"none"``: a plain shared layer
        applied to every member.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.batch_ensemble import EnsembleLinear
    >>> layer = EnsembleLinear(3, 5, k=4, scaling_init="random-signs")
    >>> layer(torch.randn(2, 4, 3)).shape
    torch.Size([2, 4, 5])
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        k: int = 1,
        *,
        scaling_init: str = "ones",
        chunks: Sequence[int] | None = None,
        scalings: str = "batch",
    ) -> None:
        super().__init__()
        if scalings not in ("batch", "input", "none"):
            raise ValueError(f"Unknown scalings {scalings!r}.")
        self.d_in, self.d_out = d_in, d_out
        self.k, self.scalings = k, scalings if k > 1 else "none"
        self.lr_scale = d_in**-0.5
        self.weight = nn.Parameter(torch.randn(d_out, d_in) * self.lr_scale)
        per_member = self.scalings == "batch"
        self.bias = nn.Parameter(
            torch.zeros(k, d_out) if per_member else torch.zeros(d_out)
        )
        if self.scalings != "none":
            self.r = nn.Parameter(_scalings(k, d_in, scaling_init, chunks))
        if per_member:
            self.s = nn.Parameter(torch.ones(k, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``(n, d_in)`` (``k=1``) or ``(n, k, d_in)``."""
        if self.scalings == "none":
            return F.linear(x, self.weight, self.bias)
        if self.scalings == "input":
            return F.linear(x * self.r, self.weight, self.bias)
        y = F.linear(x * self.r, self.weight)
        return torch.addcmul(self.bias, y, self.s)


class EnsembleHead(nn.Module):
    """One linear output layer per member (not shared); NTK-scaled as
    :class:`EnsembleLinear` (:attr:`lr_scale`).

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.batch_ensemble import EnsembleHead
    >>> EnsembleHead(8, 3, k=4)(torch.randn(2, 4, 8)).shape
    torch.Size([2, 4, 3])
    """

    def __init__(self, d_in: int, d_out: int, k: int = 1) -> None:
        super().__init__()
        self.k, self.lr_scale = k, d_in**-0.5
        self.weight = nn.Parameter(torch.randn(k, d_in, d_out) * self.lr_scale)
        self.bias = nn.Parameter(torch.zeros(k, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d_in)`` to ``(n, d_out)`` for one member, else ``(n, k, d_in)`` to
        ``(n, k, d_out)``."""
        if self.k == 1:
            return torch.addmm(self.bias[0], x, self.weight[0])
        y = torch.bmm(x.transpose(0, 1), self.weight)
        return (y + self.bias[:, None, :]).transpose(0, 1)


class ParametricActivation(nn.Module):
    """``x + alpha * (f(x) - x)``, with one learnable ``alpha`` per unit (RealMLP).

    ``alpha`` starts at 1 (the plain activation); a unit may learn to be more linear.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.batch_ensemble import ParametricActivation
    >>> act = ParametricActivation("relu", 2)
    >>> act(torch.tensor([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    def __init__(self, activation: str, width: int) -> None:
        super().__init__()
        self.f = make_activation(activation)
        self.alpha = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the activation."""
        return torch.lerp(x, self.f(x), self.alpha)


def _scalings(k: int, d: int, init: str, chunks: Sequence[int] | None) -> torch.Tensor:
    """Initial ``(k, d)`` scalings: ones, random signs or normals, shared within
    each chunk of consecutive inputs."""
    if init == "ones":
        return torch.ones(k, d)
    sizes = list(chunks) if chunks is not None else [1] * d
    if sum(sizes) != d:
        raise ValueError(f"chunks sum to {sum(sizes)}, not {d}.")
    draw = torch.randn(k, len(sizes))
    if init == "random-signs":
        draw = torch.where(draw >= 0, 1.0, -1.0)
    elif init != "normal":
        raise ValueError(f"Unknown scaling_init {init!r}.")
    return torch.repeat_interleave(
        draw, torch.as_tensor(sizes, device=draw.device), dim=1, output_size=d
    )


def _std(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Weighted standard deviation of each column of ``(n, d)``; 1 where it is 0."""
    if weight is None:
        std = values.std(0, correction=0)
    else:
        w = (weight / weight.sum()).to(values.dtype)[:, None]
        mean = (w * values).sum(0)
        std = (w * (values - mean) ** 2).sum(0).sqrt()
    return torch.where(std > 0, std, 1.0)


def _kink(values: torch.Tensor, levels: torch.Tensor, weight: torch.Tensor | None):
    """Per column of ``values`` (``(n, d)``): the midpoint between its (weighted)
    quantile at ``levels[j]`` and the next distinct value (the previous one at the
    top), never a value itself: a kink exactly on a row would make that row's
    gradient depend on rounding. Values closer than ``1e-9`` of the column's range
    count as one (a repeated row's products may differ in their last bits)."""
    xs, share = sorted_shares(values, weight)  # (d, n) each
    n = xs.shape[1]
    tol = 1e-9 * (xs[:, -1:] - xs[:, :1]).clamp_min(1e-30)
    low = quantiles_of_sorted(xs, share, levels[:, None])
    above = xs.gather(1, torch.searchsorted(xs, low + tol, right=True).clamp_max(n - 1))
    below = xs.gather(1, (torch.searchsorted(xs, low - tol) - 1).clamp_min(0))
    other = torch.where(above > low + tol, above, below)
    other = torch.where((other - low).abs() > tol, other, low - 1.0)
    return (0.5 * (low + other))[:, 0]


def init_layer(
    layer: EnsembleLinear, x: torch.Tensor, weight: torch.Tensor | None
) -> torch.Tensor:
    """RealMLP-style data-dependent init of one layer; returns its pre-activations."""
    layer.bias.zero_()
    k = layer.k
    pre = layer(x).reshape(x.shape[0], k, layer.d_out)
    rows_w = None if weight is None else weight.repeat_interleave(k)
    layer.weight.div_(_std(pre.reshape(-1, layer.d_out), rows_w)[:, None])
    pre = layer(x).reshape(x.shape[0], k, layer.d_out)
    # Each member's unit gets its kink at a random quantile of its pre-activations
    # (of all members' together when the bias is shared).
    levels = torch.rand(k, layer.d_out, dtype=torch.float64)
    if layer.bias.ndim == 1:
        flat = pre.reshape(-1, layer.d_out)
        layer.bias.copy_(-_kink(flat, levels[0], rows_w))
        return layer(x)
    for m in range(k):
        layer.bias[m].copy_(-_kink(pre[:, m], levels[m], weight))
    return layer(x)


def init_head(head: EnsembleHead, x: torch.Tensor, weight: torch.Tensor | None) -> None:
    """Outputs of unit variance and zero mean per member on the rows: predictions
    start around the mean target (standardised) or even odds."""
    xs = x[:, None, :] if head.k == 1 else x
    w = None if weight is None else (weight / weight.sum()).to(x.dtype)[:, None]
    for m in range(head.k):
        out = xs[:, m] @ head.weight[m]
        head.weight[m].div_(_std(out, weight)[None, :])
        out = xs[:, m] @ head.weight[m]
        mean = out.mean(0) if w is None else (w * out).sum(0)
        head.bias[m].copy_(-mean)
