"""Training-time augmentation on the device: batch kernels and the augmented batch source.

The kernels transform a whole batch with vectorised torch operations and draw one
random number (or offset) per sample from a ``torch.Generator``: no Python loop over
samples, no host round trip. :class:`AugmentedData` wraps the training batch source
so that every training batch goes through a transform; anything that reads the rows
without recording gradients (the finite check, predictions) sees them unchanged.

Nothing here imports scikit-learn; the parameter objects users pass
(:mod:`sknn.data.augment`) call these kernels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from sknn.training.sources import Batch, BatchSource, SourceWrapper

#: A batch transform: ``transform(X, generator) -> X`` (same shape, dtype, device).
BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def augment_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator seeded with ``seed``, on ``device`` where torch has one there.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.augment import augment_generator
    >>> augment_generator(torch.device("cpu"), 0).device
    device(type='cpu')
    """
    try:
        gen = torch.Generator(device=device)
    except RuntimeError:  # no device generator for this backend: draw on the host
        gen = torch.Generator()
    return gen.manual_seed(int(seed))


def _on(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return t if t.device == device else t.to(device, non_blocking=True)


def _per_sample(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask`` of shape ``(n,)`` viewed to broadcast over the sample axes of ``x``."""
    return mask.view(-1, *([1] * (x.ndim - 1)))


def random_flip(
    x: torch.Tensor, dim: int, p: float, generator: torch.Generator
) -> torch.Tensor:
    """Reverse axis ``dim`` of each sample with probability ``p`` (one draw per sample).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.augment import random_flip
    >>> x = torch.arange(6.0).view(2, 1, 3)
    >>> random_flip(x, -1, 1.0, torch.Generator().manual_seed(0))[:, 0].tolist()
    [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
    """
    u = torch.rand(x.shape[0], generator=generator, device=generator.device)
    flip = _on(u < p, x.device)
    return torch.where(_per_sample(x, flip), x.flip(dim), x)


def random_window(
    x: torch.Tensor, pads: Sequence[int], mode: str, generator: torch.Generator
) -> torch.Tensor:
    """Pad the spatial axes and take a random window of the original size per sample.

    ``pads`` gives the padding of each spatial axis (``x.shape[2:]``) on both of its
    sides; each sample's window starts at an offset drawn uniformly from
    ``0 .. 2 * pad`` along each axis, which is a shift by ``-pad .. pad``. ``mode`` is
    :func:`torch.nn.functional.pad`'s (``"constant"`` fills with zeros).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.augment import random_window
    >>> x = torch.arange(1.0, 6.0).view(1, 1, 5)
    >>> out = random_window(x, [2], "constant", torch.Generator().manual_seed(3))
    >>> out.shape, out.tolist()
    (torch.Size([1, 1, 5]), [[[0.0, 1.0, 2.0, 3.0, 4.0]]])
    """
    pads = [int(p) for p in pads]
    if not any(pads):
        return x
    flat = []  # F.pad lists the last axis first
    for p in reversed(pads):
        flat += [p, p]
    # torch pads one to three trailing axes of (N, C, *spatial) in every mode.
    out = F.pad(x, flat, mode=mode)
    n = x.shape[0]
    for axis, pad in zip(range(2, x.ndim), pads):
        if pad == 0:
            continue
        size = x.shape[axis]
        start = torch.randint(
            0, 2 * pad + 1, (n,), generator=generator, device=generator.device
        )
        index = _on(start, x.device)[:, None] + torch.arange(size, device=x.device)
        view = [n] + [1] * (x.ndim - 1)
        view[axis] = size
        shape = list(out.shape)
        shape[axis] = size
        out = out.gather(axis, index.view(view).expand(shape))
    return out


def gaussian_noise(
    x: torch.Tensor, std: float, generator: torch.Generator
) -> torch.Tensor:
    """``x`` plus independent normal noise of standard deviation ``std``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.augment import gaussian_noise
    >>> x = torch.zeros(1000, 1, 50)
    >>> round(float(gaussian_noise(x, 0.5, torch.Generator().manual_seed(0)).std()), 2)
    0.5
    """
    noise = torch.randn(
        x.shape, generator=generator, device=generator.device, dtype=x.dtype
    )
    return x + std * _on(noise, x.device)


class AugmentedData(SourceWrapper):
    """A training batch source whose batches go through ``transform``.

    The rows, targets and weights are those of the wrapped ``source``;
    :meth:`batches` transforms the first input of each batch while gradients are being
    recorded (training steps). Batches read without gradients (``torch.no_grad`` /
    ``torch.inference_mode``: the finite check, predictions on the training rows) and
    :meth:`subset` are left as they are.

    Parameters
    ----------
    source : BatchSource
        The training rows (after the validation split).
    transform : callable
        ``transform(X, generator) -> X`` on a device batch; must keep its shape,
        dtype and device.
    generator : torch.Generator
        The stream the transform draws from (seeded by the fit's seed).
    name : str, default="augment"
        How error messages name the transform.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData
    >>> from sknn.training.augment import AugmentedData
    >>> data = TensorData(np.zeros((4, 1, 3)), np.zeros(4), None, torch.device("cpu"))
    >>> aug = AugmentedData(data, lambda x, g: x + 1, torch.Generator())
    >>> next(aug.batches(4)).inputs[0].sum().item(), aug.n_samples
    (12.0, 4)
    >>> with torch.no_grad():
    ...     next(aug.batches(4)).inputs[0].sum().item()
    0.0
    """

    def __init__(
        self,
        source: BatchSource,
        transform: BatchTransform,
        generator: torch.Generator,
        *,
        name: str = "augment",
    ) -> None:
        super().__init__(source)
        self.transform = transform
        self.generator = generator
        self.name = name
        self.capabilities = dataclasses.replace(source.capabilities, augmented=True)

    @property
    def augmented(self) -> bool:
        """True: training batches are transformed (``capabilities.augmented``)."""
        return self.capabilities.augmented

    def check(self, rows: int = 2) -> None:
        """Transform the first ``rows`` rows once (from a throwaway stream), so that
        a transform that fails or returns the wrong batch fails before training."""
        with torch.no_grad():
            batches = self.source.batches(rows)  # device rows, whatever the source
            try:
                first = next(batches).inputs[0]
            finally:
                batches.close()
            _apply(self.transform, first, augment_generator(self.device, 0), self.name)

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield the source's batches, the first input transformed while training."""
        for batch in self.source.batches(batch_size, generator, merge_last=merge_last):
            if torch.is_grad_enabled():
                xb = batch.inputs
                batch = batch._replace(inputs=(self._apply(xb[0]), *xb[1:]))
            yield batch

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return _apply(self.transform, x, self.generator, self.name)


def _apply(self, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return _apply(self.transform, x, self.generator, self.name)


def _apply(
    transform: BatchTransform, x: torch.Tensor, generator: torch.Generator, name: str
) -> torch.Tensor:
    try:
        out = transform(x, generator)
    except (TypeError, RuntimeError, IndexError) as exc:
        raise ValueError(
            f"{name} failed on a batch of shape {tuple(x.shape)}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"{name} must return a torch.Tensor for a batch; got {type(out).__name__}."
        )
    if out.shape != x.shape or out.dtype != x.dtype or out.device != x.device:
        raise ValueError(
            f"{name} must return a batch of the shape, dtype and device it was given "
            f"({tuple(x.shape)}, {x.dtype}, {x.device}); got "
            f"({tuple(out.shape)}, {out.dtype}, {out.device})."
        )
    return out
