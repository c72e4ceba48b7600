"""Validation of image, signal and sequence inputs, and padding of ragged sequences.

Every function here returns float arrays with the samples on the first axis, in the
layout the torch modules expect: ``(n, C, H, W)`` or ``(n, C, T)`` for convolutions,
``(n, T, F)`` (batch first) for recurrent nets. Errors are ``ValueError`` messages that
name the layout that was expected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_array

#: Layouts accepted by the convolutional estimators, for error messages.
IMAGE_LAYOUTS = (
    "(n_samples, n_features) with input_shape=(C, H, W) or (C, T), "
    "(n_samples, H, W), (n_samples, C, H, W), or (n_samples, C, T) with "
    "input_shape=(C, T)"
)
#: Layouts accepted by the recurrent estimators, for error messages.
SEQUENCE_LAYOUTS = (
    "(n_samples, n_features) tables (univariate sequences, or input_shape=(T, F)), "
    "(n_samples, T, F) arrays, or a list of (T_i, F) arrays"
)


def scale_uint8(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Convert an array to floats, dividing ``uint8`` data by 255.

    The rule depends on the dtype only, never on the values: ``uint8`` arrays (the
    usual storage of 8-bit images) are mapped to ``[0, 1]``; every other dtype is
    converted unchanged.

    Parameters
    ----------
    X : ndarray
        Any numeric array.
    dtype : numpy dtype, default=np.float32
        Floating dtype of the result.

    Returns
    -------
    ndarray
        ``X / 255`` for ``uint8`` input, else ``X`` as floats.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.inputs import scale_uint8
    >>> scale_uint8(np.array([0, 51, 255], dtype=np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    >>> scale_uint8(np.array([0, 51, 255])).tolist()
    [0.0, 51.0, 255.0]
    """
    if X.dtype == np.uint8:
        return X.astype(dtype) / dtype(255)
    return X.astype(dtype, copy=False)


def image_sample_shape(
    tail: tuple[int, ...], input_shape: Sequence[int] | None
) -> tuple[int, ...]:
    """Per-sample ``(C, H, W)`` or ``(C, T)`` shape for input of shape ``(n, *tail)``.

    Rules: a 2-D table ``(n, n_features)`` is reshaped to ``input_shape`` (``(C, H, W)``
    or ``(C, T)``) when given, else read as a one-channel signal ``(1, n_features)``;
    a 3-D array ``(n, H, W)`` is a one-channel image, unless ``input_shape=(C, T)``
    says it holds signals; a 4-D array is ``(n, C, H, W)``.

    Parameters
    ----------
    tail : tuple of int
        The input's shape without the sample axis.
    input_shape : sequence of int or None
        The user's ``input_shape`` (or the one fitted).

    Returns
    -------
    tuple of int
        The shape of one sample as the convolutional module reads it.

    Examples
    --------
    >>> from sknn.data.inputs import image_sample_shape
    >>> image_sample_shape((784,), (1, 28, 28))
    (1, 28, 28)
    >>> image_sample_shape((8, 8), None)
    (1, 8, 8)
    >>> image_sample_shape((3, 100), (3, 100))
    (3, 100)
    >>> image_sample_shape((10,), None)
    (1, 10)
    """
    shape = None if input_shape is None else tuple(int(s) for s in input_shape)
    if shape is not None and (len(shape) not in (2, 3) or min(shape) < 1):
        raise ValueError(
            f"input_shape must be (C, H, W) for images or (C, T) for signals, with "
            f"positive sizes; got {input_shape!r}."
        )
    if len(tail) == 1:
        if shape is None:
            return (1, tail[0])
        if int(np.prod(shape)) != tail[0]:
            raise ValueError(
                f"input_shape={shape} holds {int(np.prod(shape))} values per sample "
                f"but X has {tail[0]} columns; expected {IMAGE_LAYOUTS}."
            )
        return shape
    if len(tail) == 2:
        sample = tuple(tail) if shape is not None and len(shape) == 2 else (1, *tail)
    elif len(tail) == 3:
        sample = tuple(tail)
    else:
        raise ValueError(
            f"Expected {IMAGE_LAYOUTS}; got an array with {len(tail) + 1} dimensions."
        )
    if shape is not None and sample != shape:
        raise ValueError(
            f"X has samples of shape {tuple(tail)} but input_shape is {shape}; "
            f"expected {IMAGE_LAYOUTS}."
        )
    return sample


def is_ragged(X) -> bool:
    """Whether ``X`` is a list (or object array) of sequences of different lengths.

    Parameters
    ----------
    X : object
        Candidate input.

    Returns
    -------
    bool
        ``True`` for a sequence of arrays that numpy cannot stack into one array.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.inputs import is_ragged
    >>> is_ragged([np.zeros((3, 2)), np.zeros((5, 2))])
    True
    >>> is_ragged(np.zeros((4, 3, 2)))
    False
    """
    if isinstance(X, np.ndarray):
        return (
            X.dtype == object
            and X.ndim == 1
            and len(X) > 0
            and all(hasattr(x, "__len__") for x in X)
        )
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        return False
    try:
        arr = np.asarray(X)
    except ValueError:
        return True
    return arr.dtype == object


class PaddedSequences(tuple):
    """``(padded, lengths)``: ragged sequences as one zero-padded array and their lengths.

    A tuple the training engine hands to the module as ``module(padded, lengths)``;
    ``shape`` is the padded array's, so scikit-learn's sample counting works on it.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.inputs import pad_sequences
    >>> seqs = pad_sequences([np.ones((2, 3)), np.ones((4, 3))])
    >>> seqs.shape, seqs[1].tolist()
    ((2, 4, 3), [2, 4])
    """

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the padded array ``(n_samples, max_length, n_features)``."""
        return tuple(self[0].shape)


def check_sequence_list(X, *, dtype=np.float32) -> list[np.ndarray]:
    """Validate a list of ``(T_i, F)`` (or univariate ``(T_i,)``) sequences.

    Parameters
    ----------
    X : list of array-like
        The sequences, any lengths, the same number of features.
    dtype : numpy dtype, default=np.float32
        Floating dtype of the result.

    Returns
    -------
    list of ndarray
        One ``(T_i, F)`` float array per sequence.

    Examples
    --------
    >>> from sknn.data.inputs import check_sequence_list
    >>> [s.shape for s in check_sequence_list([[1, 2, 3], [4, 5]])]
    [(3, 1), (2, 1)]
    """
    if len(X) == 0:
        raise ValueError(
            f"Found an empty list of sequences; expected {SEQUENCE_LAYOUTS}."
        )
    out = []
    n_features = None
    for i, seq in enumerate(X):
        if sp.issparse(seq):
            raise TypeError("Sequences must be dense arrays, not sparse matrices.")
        arr = np.asarray(seq)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(
                f"Sequence {i} has {arr.ndim} dimensions; each sequence must be a "
                f"(T_i, F) array (or (T_i,) for univariate series)."
            )
        if arr.shape[0] == 0:
            raise ValueError(
                f"Sequence {i} is empty (0 time steps); every sequence needs at least "
                "one step."
            )
        if n_features is None:
            n_features = arr.shape[1]
        elif arr.shape[1] != n_features:
            raise ValueError(
                f"Sequence {i} has {arr.shape[1]} features per step but sequence 0 has "
                f"{n_features}; all sequences must have the same number of features."
            )
        arr = check_array(arr, dtype=None, ensure_min_features=1, input_name="X")
        out.append(scale_uint8(arr, dtype))
    return out


def pad_sequences(
    sequences: Sequence[np.ndarray], *, dtype=np.float32
) -> PaddedSequences:
    """Stack ``(T_i, F)`` sequences into a zero-padded ``(n, max T_i, F)`` array.

    Parameters
    ----------
    sequences : sequence of ndarray
        Validated sequences (see :func:`check_sequence_list`).
    dtype : numpy dtype, default=np.float32
        Dtype of the padded array.

    Returns
    -------
    PaddedSequences
        ``(padded, lengths)`` with ``lengths`` a ``torch.long`` tensor. The recurrent
        modules pack the batch with these lengths, so the padding never reaches a
        recurrent cell.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.inputs import pad_sequences
    >>> padded, lengths = pad_sequences([np.ones((1, 2)), np.ones((3, 2))])
    >>> padded[0, :, 0].tolist(), lengths.tolist()
    ([1.0, 0.0, 0.0], [1, 3])
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    n_features = sequences[0].shape[1]
    padded = np.zeros((len(sequences), int(lengths.max()), n_features), dtype=dtype)
    for i, seq in enumerate(sequences):
        padded[i, : len(seq)] = seq
    return PaddedSequences((padded, torch.as_tensor(lengths, dtype=torch.long)))


def table_to_sequences(X: np.ndarray, input_shape: Sequence[int] | None) -> np.ndarray:
    """Reshape a 2-D table into ``(n, T, F)`` sequences.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated table.
    input_shape : (T, F) or None
        Shape of one sample; ``None`` reads each row as a univariate sequence
        ``(n_features, 1)``. Columns are read in C order: step by step, feature by
        feature within a step.

    Returns
    -------
    ndarray of shape (n_samples, T, F)

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.inputs import table_to_sequences
    >>> table_to_sequences(np.zeros((5, 6)), (3, 2)).shape
    (5, 3, 2)
    >>> table_to_sequences(np.zeros((5, 6)), None).shape
    (5, 6, 1)
    """
    if input_shape is None:
        return X[:, :, None]
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (T, F) with positive sizes; got {input_shape!r}."
        )
    if shape[0] * shape[1] != X.shape[1]:
        raise ValueError(
            f"input_shape={shape} holds {shape[0] * shape[1]} values per sample but X "
            f"has {X.shape[1]} columns; expected {SEQUENCE_LAYOUTS}."
        )
    return X.reshape(X.shape[0], *shape)


def check_targets(y, n_samples: int, *, numeric: bool) -> np.ndarray:
    """Validate targets that go with image or sequence inputs.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    n_samples : int
        Number of samples in ``X``.
    numeric : bool
        Convert to numbers (regression) or keep the labels' type (classification).

    Returns
    -------
    ndarray
        The validated targets.

    Examples
    --------
    >>> from sknn.data.inputs import check_targets
    >>> check_targets(["a", "b"], 2, numeric=False).tolist()
    ['a', 'b']
    """
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None."
        )
    y = check_array(
        y, ensure_2d=False, dtype="numeric" if numeric else None, input_name="y"
    )
    if y.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {y.shape[0]}]"
        )
    return y
