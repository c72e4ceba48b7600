"""Activation functions by name, with scikit-learn's names as aliases."""

from __future__ import annotations

from torch import nn

#: Activation names accepted by every sknn estimator, mapped to module factories.
ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
}


def make_activation(name: str) -> nn.Module:
    """Build an activation module from its name.

    Parameters
    ----------
    name : str
        One of the keys of :data:`ACTIVATIONS`.

    Returns
    -------
    torch.nn.Module
        A new activation module.

    Examples
    --------
    >>> from sknn.modules import make_activation
    >>> make_activation("gelu")
    GELU(approximate='none')
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}."
        ) from None
