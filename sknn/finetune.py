"""Fine-tuning a fitted network on a new task: new head, frozen body, short training.

Every sknn estimator inherits :class:`FineTuneMixin`, whose :meth:`~FineTuneMixin.
fine_tune` keeps the learnt weights, replaces the output layer when the classes (or the
number of outputs) differ, freezes the body and trains through the same engine as
``fit``: by default up to the estimator's ``max_iter`` epochs with its convergence rule,
and, with a frozen body, ten times its learning rate.

How the head and the blocks of a network are found (sknn's modules and users' own):

* the **head** is the attribute named ``output``, ``head``, ``fc`` or ``classifier``
  (first found) when it is an ``nn.Linear``; else the last ``nn.Linear`` of the module;
* the **blocks** are the module's ``blocks`` attribute when it has one (sknn's MLP,
  CNN and RNN modules), else its top-level children in order, the head excluded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sknn.training.hooks import Hooks
from sknn.utils.random import torch_seed

#: Attribute names tried, in order, to find a module's output layer.
HEAD_NAMES = ("output", "head", "fc", "classifier")

#: ``fine_tune(freeze=True)``'s default learning rate is the estimator's times this.
HEAD_LR_FACTOR = 10.0


def find_head(module: nn.Module) -> tuple[str, nn.Linear]:
    """Return ``(qualified name, layer)`` of the output layer of ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        The network.

    Returns
    -------
    name : str
        Dotted name of the head inside ``module``.
    head : torch.nn.Linear
        The head.

    Raises
    ------
    ValueError
        If the module has no ``nn.Linear`` layer.

    Examples
    --------
    >>> from torch import nn
    >>> from sknn.finetune import find_head
    >>> find_head(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))[0]
    '2'
    """
    for name in HEAD_NAMES:
        layer = getattr(module, name, None)
        if isinstance(layer, nn.Linear):
            return name, layer
    last = None
    for name, layer in module.named_modules():
        if isinstance(layer, nn.Linear):
            last = (name, layer)
    if last is None:
        raise ValueError(
            f"Cannot find the output layer of {type(module).__name__}: it has no "
            f"attribute among {HEAD_NAMES} and no nn.Linear layer."
        )
    return last


def replace_head(module: nn.Module, n_outputs: int) -> nn.Linear:
    """Replace the head of ``module`` by a fresh ``nn.Linear`` with ``n_outputs`` units.

    The new layer takes the old one's input width, device and dtype.

    Examples
    --------
    >>> from sknn.modules import MLP
    >>> from sknn.finetune import replace_head
    >>> net = MLP(4, 3, hidden_layer_sizes=(8,))
    >>> replace_head(net, 5).out_features, net.output.out_features
    (5, 5)
    """
    name, old = find_head(module)
    new = nn.Linear(
        old.in_features,
        n_outputs,
        bias=old.bias is not None,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    parent_name, _, attr = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, attr, new)
    return new


def body_blocks(module: nn.Module) -> list[nn.Module]:
    """Return the ordered body blocks of ``module`` (see the module docstring).

    Examples
    --------
    >>> from sknn.modules import MLP
    >>> from sknn.finetune import body_blocks
    >>> len(body_blocks(MLP(4, 3, hidden_layer_sizes=(8, 8))))
    2
    """
    blocks = getattr(module, "blocks", None)
    if isinstance(blocks, (nn.Sequential, nn.ModuleList)):
        return list(blocks)
    head_name, head = find_head(module)
    top = head_name.split(".")[0]
    return [m for n, m in module.named_children() if n != top and m is not head]


def freeze_body(module: nn.Module, freeze: bool | int) -> list[nn.Module]:
    """Set ``requires_grad`` for fine-tuning; return the fully frozen blocks.

    ``freeze=True`` freezes every parameter outside the head, an int ``N`` the
    parameters of the first ``N`` blocks, ``False`` nothing. Parameters not frozen
    are made trainable again (so a second call can unfreeze).

    Examples
    --------
    >>> from sknn.modules import MLP
    >>> from sknn.finetune import freeze_body
    >>> net = MLP(4, 3, hidden_layer_sizes=(8, 8))
    >>> _ = freeze_body(net, 1)
    >>> [p.requires_grad for p in net.parameters()]
    [False, False, True, True, True, True]
    """
    for p in module.parameters():
        p.requires_grad_(True)
    if freeze is False:
        return []
    if freeze is True:
        _, head = find_head(module)
        keep = {id(p) for p in head.parameters()}
        for p in module.parameters():
            if id(p) not in keep:
                p.requires_grad_(False)
        return [m for m in module.children() if not any(h is head for h in m.modules())]
    blocks = body_blocks(module)
    if freeze > len(blocks):
        raise ValueError(
            f"freeze={freeze} but the network has only {len(blocks)} body blocks."
        )
    for block in blocks[:freeze]:
        for p in block.parameters():
            p.requires_grad_(False)
    return blocks[:freeze]


class FrozenNormEval(Hooks):
    """Keep the normalisation layers of frozen blocks in inference mode."""

    def __init__(self, modules=()) -> None:
        self.modules = modules

    def on_epoch_begin(self, trainer) -> None:
        for block in self.modules:
            for m in block.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()


@dataclass(frozen=True)
class FineTuneOptions:
    """What :meth:`FineTuneMixin.fine_tune` asks of the fit plan.

    Parameters
    ----------
    new_head : bool
        Replace the output layer (and refit the targets' encoding).
    freeze : bool or int
        As :meth:`~FineTuneMixin.fine_tune`'s ``freeze``.
    max_iter : int
        Most epochs.
    learning_rate_init : float
        The learning rate of the fine-tuning.

    Examples
    --------
    >>> from sknn.finetune import FineTuneOptions
    >>> FineTuneOptions(new_head=True, freeze=1, max_iter=5, learning_rate_init=0.01)
    FineTuneOptions(new_head=True, freeze=1, max_iter=5, learning_rate_init=0.01)
    """

    new_head: bool
    freeze: bool | int
    max_iter: int
    learning_rate_init: float

    def prepare(
        self, module: nn.Module, n_outputs: int, seed: int, device: torch.device
    ) -> list[nn.Module]:
        """Give ``module`` its new head (seeded) where asked and freeze its body;
        return the fully frozen blocks (see :func:`freeze_body`)."""
        if self.new_head:
            with torch_seed(seed, device):
                replace_head(module, n_outputs)
        return freeze_body(module, self.freeze)


class FineTuneMixin:
    """Adds :meth:`fine_tune` to sknn estimators."""

    def fine_tune(
        self,
        X,
        y,
        *,
        freeze: bool | int = True,
        max_iter: int | None = None,
        learning_rate_init: float | None = None,
        head: str = "auto",
        sample_weight=None,
    ):
        """Train the fitted network further on a new task, with a frozen body.

        The learnt weights are kept. The output layer is replaced by a new one when
        ``y`` has classes the estimator has not seen (or another number of outputs),
        which updates ``classes_``, ``n_outputs_`` and the target encoder. Frozen
        parameters are not given to the optimiser and do not change; the batch-norm
        layers of frozen blocks keep their running statistics. Training uses the
        estimator's other parameters (solver, batch size, callbacks, early stopping,
        device) and starts a new ``history_``; ``n_iter_`` counts the fine-tuning
        epochs. A Ctrl-C ends it cleanly, as in ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training data of the new task, with the features the network was fitted
            on.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets of the new task.
        freeze : bool or int, default=True
            ``True`` freezes everything but the head; an int ``N`` the first ``N``
            body blocks; ``False`` nothing (full fine-tuning). Parameters left
            unfrozen by this call become trainable again.
        max_iter : int, default=None
            Most epochs of fine-tuning; ``None`` uses the estimator's ``max_iter``.
            Training stops earlier by the estimator's convergence rule (``tol``,
            ``n_iter_no_change``, ``early_stopping``), as in ``fit``.
        learning_rate_init : float, default=None
            Learning rate of the fine-tuning. ``None`` uses the estimator's, times
            :data:`HEAD_LR_FACTOR` (10) with ``freeze=True``: a head on frozen
            features is a linear model, which takes larger steps safely, and a small
            new task gives few steps per epoch.
        head : {"auto", "new", "keep"}, default="auto"
            ``"auto"`` replaces the head when the classes or outputs differ,
            ``"new"`` always replaces it, ``"keep"`` never does (and raises when
            ``y`` does not fit it).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : object
            The fine-tuned estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sknn import MLPClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> X = X / 16
        >>> clf = MLPClassifier((32,), max_iter=30, random_state=0)
        >>> clf = clf.fit(X[y < 5], y[y < 5])
        >>> body = clf.module_.hidden[0][0].weight.clone()
        >>> clf = clf.fine_tune(X[y >= 5], y[y >= 5])
        >>> clf.classes_.tolist()
        [5, 6, 7, 8, 9]
        >>> bool((clf.module_.hidden[0][0].weight == body).all())
        True
        >>> clf.score(X[y >= 5], y[y >= 5]) > 0.8
        True
        """
        check_is_fitted(self, "module_")
        if isinstance(freeze, bool):
            pass
        elif not isinstance(freeze, Integral) or freeze < 0:
            raise ValueError(
                f"freeze must be True, False or a non-negative int; got {freeze!r}."
            )
        if max_iter is not None and (
            not isinstance(max_iter, Integral)
            or isinstance(max_iter, bool)
            or (max_iter < 1)
        ):
            raise ValueError(
                f"max_iter must be a positive int or None; got {max_iter!r}."
            )
        if learning_rate_init is not None and (
            not isinstance(learning_rate_init, Real) or learning_rate_init <= 0
        ):
            raise ValueError(
                f"learning_rate_init must be a positive float; got {learning_rate_init!r}."
            )
        if head not in ("auto", "new", "keep"):
            raise ValueError(f"head must be 'auto', 'new' or 'keep'; got {head!r}.")
        if y is None:
            raise ValueError("fine_tune requires y.")
        differs = self._targets_.needs_new_head(y)
        if head == "keep" and differs:
            raise ValueError(
                "head='keep' but y does not fit the current head: it has classes not in "
                f"classes_ or another number of outputs (n_outputs_={self.n_outputs_})."
            )
        if learning_rate_init is None:
            factor = HEAD_LR_FACTOR if freeze is True else 1.0
            learning_rate_init = self.learning_rate_init * factor
        options = FineTuneOptions(
            new_head=head == "new" or (head == "auto" and differs),
            freeze=freeze,
            max_iter=int(self.max_iter if max_iter is None else max_iter),
            learning_rate_init=float(learning_rate_init),
        )
        run = self._setup_fit(X, y, sample_weight=sample_weight, fine_tune=options)
        with run.rng:
            run.trainer.fit(run.train, run.valid)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Stochastic Optimizer", category=ConvergenceWarning
            )
            self._finish_fit(run)
        return self


__all__ = [
    "HEAD_LR_FACTOR",
    "HEAD_NAMES",
    "FineTuneMixin",
    "FineTuneOptions",
    "FrozenNormEval",
    "body_blocks",
    "find_head",
    "replace_head",
]
