"""Nested parameters in scikit-learn's double-underscore style.

``optimizer__momentum=0.8``, ``criterion__label_smoothing=0.1`` and (for
:class:`~sknn.NeuralNetClassifier` / :class:`~sknn.NeuralNetRegressor`)
``module__width=64`` are keyword arguments of the estimator, as in skorch: they are
returned by ``get_params``, taken by ``set_params`` and ``clone``, and can be searched by
:class:`~sklearn.model_selection.GridSearchCV` and :class:`~sknn.OptunaSearchCV` like
any other parameter, even inside a :class:`~sklearn.pipeline.Pipeline`.
"""

from __future__ import annotations

from typing import Any


class NestedParamsMixin:
    """``get_params`` / ``set_params`` that also carry prefixed keyword arguments.

    Subclasses list their prefixes in ``_nested_prefixes`` and call
    :meth:`_set_nested` from ``__init__`` with their ``**kwargs``.
    """

    _nested_prefixes: tuple[str, ...] = ("optimizer__", "criterion__")

    def _set_nested(self, kwargs: dict[str, Any]) -> None:
        # Like every parameter, an unknown name is refused by fit, not here
        # (scikit-learn's rule: __init__ and set_params never raise).
        self._unknown_params = tuple(k for k in kwargs if not self._is_nested_name(k))
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _check_nested_names(self) -> None:
        """Refuse keyword arguments that are not nested parameters (at ``fit``)."""
        unknown = getattr(self, "_unknown_params", ())
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got an unexpected keyword argument "
                f"{unknown[0]!r}. Nested parameters start with one of "
                f"{list(self._nested_prefixes)}."
            )

    @classmethod
    def _is_nested_name(cls, key: str) -> bool:
        return any(
            key.startswith(p) and len(key) > len(p) for p in cls._nested_prefixes
        )

    def _nested(self, prefix: str) -> dict[str, Any]:
        """The nested parameters under ``prefix`` (``"optimizer"``), unprefixed."""
        start = prefix + "__"
        return {
            k[len(start) :]: v for k, v in vars(self).items() if k.startswith(start)
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get the parameters of this estimator, nested ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)  # type: ignore[misc]
        unknown = getattr(self, "_unknown_params", ())
        params.update(
            {
                k: v
                for k, v in vars(self).items()
                if self._is_nested_name(k) or k in unknown
            }
        )
        return params

    def set_params(self, **params):
        """Set the parameters of this estimator, nested ones included.

        Parameters
        ----------
        **params : dict
            Estimator parameters, and nested ones such as ``optimizer__momentum``.

        Returns
        -------
        self : estimator instance
            The estimator.
        """
        for key in [k for k in params if self._is_nested_name(k)]:
            setattr(self, key, params.pop(key))
        if params:
            super().set_params(**params)  # type: ignore[misc]
        return self


def accepts_nested(estimator: Any, name: str) -> bool:
    """Whether ``set_params(**{name: ...})`` reaches a nested parameter.

    ``name`` may go through meta-estimators (``"mlp__optimizer__momentum"`` in a
    pipeline with a step ``"mlp"``).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sknn import MLPClassifier
    >>> from sknn._nested import accepts_nested
    >>> accepts_nested(MLPClassifier(), "optimizer__momentum")
    True
    >>> accepts_nested(make_pipeline(MLPClassifier()), "mlpclassifier__criterion__x")
    True
    >>> accepts_nested(MLPClassifier(), "module__width")
    False
    """
    if isinstance(estimator, NestedParamsMixin) and estimator._is_nested_name(name):
        return True
    head, sep, rest = name.partition("__")
    if not sep or not hasattr(estimator, "get_params"):
        return False
    inner = estimator.get_params(deep=True).get(head)
    return inner is not None and accepts_nested(inner, rest)
