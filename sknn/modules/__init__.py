"""Pure :mod:`torch.nn` architectures. Nothing here imports scikit-learn.

Examples
--------
>>> import torch
>>> from sknn.modules import MLP
>>> net = MLP(n_features_in=4, n_outputs=3, hidden_layer_sizes=(8,))
>>> net(torch.zeros(2, 4)).shape
torch.Size([2, 3])
"""

from sknn.modules.activations import ACTIVATIONS, make_activation
from sknn.modules.cnn import CNN
from sknn.modules.keyword import KeywordInputs
from sknn.modules.mlp import MLP
from sknn.modules.rnn import RNN
from sknn.modules.tabm import TabularNet
from sknn.modules.tabular import TabularInput

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "MLP",
    "RNN",
    "KeywordInputs",
    "TabularInput",
    "TabularNet",
    "make_activation",
]
