"""Convolutional networks for images ``(C, H, W)`` and signals ``(C, T)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from sknn.modules.activations import make_activation


class Pool(nn.Module):
    """Max or average pooling that leaves inputs smaller than the window unchanged.

    Small inputs (an 8x8 digit after three blocks, a 2-step signal) pass through, so
    one architecture fits every input size.

    Parameters
    ----------
    kind : {"max", "avg"}
        Pooling operation.
    size : int
        Window and stride.
    n_dims : {1, 2}
        Spatial dimensions.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.cnn import Pool
    >>> Pool("max", 2, 2)(torch.ones(1, 3, 8, 8)).shape
    torch.Size([1, 3, 4, 4])
    >>> Pool("max", 2, 1)(torch.ones(1, 3, 1)).shape
    torch.Size([1, 3, 1])
    """

    def __init__(self, kind: str, size: int, n_dims: int) -> None:
        super().__init__()
        self.kind, self.size, self.n_dims = kind, size, n_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``x`` when every spatial size is at least the window."""
        if min(x.shape[2:]) < self.size:
            return x
        fn = {
            ("max", 1): F.max_pool1d,
            ("max", 2): F.max_pool2d,
            ("avg", 1): F.avg_pool1d,
            ("avg", 2): F.avg_pool2d,
        }[(self.kind, self.n_dims)]
        return fn(x, self.size)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, size={self.size}, n_dims={self.n_dims}"


class _SafeBatchNorm:
    """Batch norm that falls back to its running statistics on a training batch with
    one value per channel (a single sample of size 1), where batch statistics do not
    exist."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.numel() // x.shape[1] <= 1:
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                False,
                0.0,
                self.eps,
            )
        return super().forward(x)


class BatchNorm1d(_SafeBatchNorm, nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` that accepts a single-value training batch."""


class BatchNorm2d(_SafeBatchNorm, nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` that accepts a single-value training batch."""


class GlobalPool(nn.Module):
    """Global average or max pooling over the spatial axes, or flattening.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules.cnn import GlobalPool
    >>> GlobalPool("avg")(torch.ones(2, 5, 3, 3)).shape
    torch.Size([2, 5])
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reduce ``(n, C, *spatial)`` to ``(n, features)``."""
        if self.kind == "flatten":
            return x.flatten(1)
        dims = tuple(range(2, x.ndim))
        return x.mean(dims) if self.kind == "avg" else x.amax(dims)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class CNN(nn.Module):
    """Convolution blocks, global pooling, a dense head and a linear output.

    Each convolution block is ``Conv -> (BatchNorm) -> activation -> (pooling) ->
    (Dropout)``; 2-D convolutions for ``(C, H, W)`` inputs, 1-D for ``(C, T)``.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: ``(C, H, W)`` or ``(C, T)``.
    n_outputs : int
        Width of the output layer (raw scores).
    channels : sequence of int, default=(32, 64)
        Output channels of each convolution block.
    kernel_size : int, default=3
        Convolution window.
    stride : int, default=1
        Convolution stride.
    padding : int or "same", default="same"
        Zero padding; ``"same"`` is ``kernel_size // 2`` (sizes kept at stride 1).
    pooling : {"max", "avg"} or None, default="max"
        Pooling after each block (skipped where the input is smaller than the window).
    pool_size : int, default=2
        Pooling window and stride.
    batch_norm : bool, default=True
        Batch normalisation after each convolution.
    dropout : float, default=0.0
        Dropout after each block and each dense hidden layer.
    global_pooling : {"flatten", "avg", "max"}, default="flatten"
        How the last feature maps become a vector.
    hidden_layer_sizes : sequence of int, default=(128,)
        Dense layers between the pooled features and the output.
    activation : str, default="relu"
        Activation of every block (see :data:`sknn.modules.ACTIVATIONS`).

    Attributes
    ----------
    blocks : torch.nn.Sequential
        The body, in order: the convolution blocks, the global pooling, the dense
        hidden blocks.
    output : torch.nn.Linear
        The head.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import CNN
    >>> CNN((1, 28, 28), 10)(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    >>> CNN((3, 50), 2, channels=(8,))(torch.zeros(4, 3, 50)).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_outputs: int,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | str = "same",
        pooling: str | None = "max",
        pool_size: int = 2,
        batch_norm: bool = True,
        dropout: float = 0.0,
        global_pooling: str = "flatten",
        hidden_layer_sizes: Sequence[int] = (128,),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        input_shape = tuple(int(s) for s in input_shape)
        n_dims = len(input_shape) - 1
        if n_dims not in (1, 2):
            raise ValueError(
                f"input_shape must be (C, H, W) or (C, T); got {input_shape}."
            )
        conv = nn.Conv2d if n_dims == 2 else nn.Conv1d
        norm = BatchNorm2d if n_dims == 2 else BatchNorm1d
        pad = kernel_size // 2 if padding == "same" else int(padding)
        blocks: list[nn.Module] = []
        width = input_shape[0]
        for out in channels:
            layers: list[nn.Module] = [
                conv(
                    width,
                    out,
                    kernel_size,
                    stride=stride,
                    padding=pad,
                    bias=not batch_norm,
                )
            ]
            if batch_norm:
                layers.append(norm(out))
            layers.append(make_activation(activation))
            if pooling is not None:
                layers.append(Pool(pooling, pool_size, n_dims))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
            width = out
        blocks.append(GlobalPool(global_pooling))
        width = self._pooled_width(nn.Sequential(*blocks), input_shape)
        for size in hidden_layer_sizes:
            layers = [nn.Linear(width, size), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
            width = size
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Linear(width, n_outputs)

    @staticmethod
    def _pooled_width(body: nn.Module, input_shape: tuple[int, ...]) -> int:
        body.eval()
        try:
            with torch.no_grad():
                width = body(torch.zeros(1, *input_shape)).shape[1]
        except RuntimeError as exc:  # a window larger than a (padded) feature map
            conv = next(
                m for m in body.modules() if isinstance(m, nn.modules.conv._ConvNd)
            )
            raise ValueError(
                f"The convolution blocks cannot read an input of shape {input_shape}: "
                f"kernel_size={conv.kernel_size[0]} with padding={conv.padding[0]} and "
                f"stride={conv.stride[0]} is larger than a feature map. Use "
                'padding="same", a smaller kernel_size, or fewer channels blocks.'
            ) from exc
        finally:
            body.train()
        if width == 0:
            raise ValueError(
                f"The convolution blocks reduce an input of shape {input_shape} to "
                "nothing; use fewer blocks, a smaller stride or more padding."
            )
        return int(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw output scores for a batch ``x`` of shape ``(n, C, H, W)`` or ``(n, C, T)``."""
        return self.output(self.blocks(x))
