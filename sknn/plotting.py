"""Training curves in scikit-learn's Display style (matplotlib is optional)."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "TrainingCurveDisplay needs matplotlib: pip install matplotlib "
            "(or pip install 'sknn[plot]')."
        ) from exc
    return plt


class TrainingCurveDisplay:
    """Per-epoch training and validation losses (and scores) of a fitted estimator.

    Build it with :meth:`from_estimator` (or from a ``history_`` with the
    constructor and :meth:`plot`). Losses are drawn on ``ax_``; scores (metrics whose
    name contains ``score``) on a second y-axis ``score_ax_``.

    Parameters
    ----------
    history : list of dict
        Per-epoch records, as in an estimator's ``history_``.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the loss curves.
    score_ax_ : matplotlib Axes or None
        Twin axes with the score curves, when any is drawn.
    figure_ : matplotlib Figure
        Figure holding the axes.
    lines_ : dict of str to matplotlib Line2D
        The line of each metric drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.plotting import TrainingCurveDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, early_stopping=True,
    ...                     random_state=0).fit(X, y)
    >>> disp = TrainingCurveDisplay.from_estimator(clf)
    >>> sorted(disp.lines_)
    ['train_loss', 'valid_loss', 'valid_score']
    """

    def __init__(self, history: Sequence[dict], *, estimator_name: str | None = None):
        self.history = history
        self.estimator_name = estimator_name

    def plot(
        self,
        *,
        ax=None,
        metrics: Sequence[str] | None = None,
        **line_kwargs,
    ) -> TrainingCurveDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when ``None``.
        metrics : sequence of str, default=None
            Recorded metrics to draw; ``None`` draws ``train_loss``, ``valid_loss``
            and ``valid_score`` where recorded.
        **line_kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for every line.

        Returns
        -------
        display : TrainingCurveDisplay
            ``self``, with ``ax_``, ``score_ax_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot()
        records = list(self.history)
        if not records:
            raise ValueError("The history is empty: fit the estimator first.")
        recorded = {k for r in records for k in r}
        if metrics is None:
            metrics = [
                m for m in ("train_loss", "valid_loss", "valid_score") if m in recorded
            ]
        else:
            missing = [m for m in metrics if m not in recorded]
            if missing:
                raise ValueError(
                    f"Metrics {missing} are not recorded; recorded metrics are "
                    f"{sorted(recorded)}."
                )
        if ax is None:
            _, ax = plt.subplots()
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(records)]
        self.lines_ = {}
        self.score_ax_ = None
        for metric in metrics:
            target = ax
            if "score" in metric:
                if self.score_ax_ is None:
                    self.score_ax_ = ax.twinx()
                    self.score_ax_.set_ylabel("score")
                target = self.score_ax_
            style = "--" if "score" in metric else "-"
            (line,) = target.plot(
                epochs,
                [r.get(metric, float("nan")) for r in records],
                style,
                label=metric,
                **line_kwargs,
            )
            self.lines_[metric] = line
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        handles = list(self.lines_.values())
        ax.legend(handles, [h.get_label() for h in handles], loc="best")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        metrics: Sequence[str] | None = None,
        name: str | None = None,
        **line_kwargs,
    ) -> TrainingCurveDisplay:
        """Plot the training curves of a fitted sknn estimator.

        Parameters
        ----------
        estimator : fitted sknn estimator
            Any estimator with a ``history_``.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        metrics : sequence of str, default=None
            Metrics to draw (see :meth:`plot`).
        name : str, default=None
            Title; the estimator's class name by default.
        **line_kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_is_fitted(estimator, "history_")
        disp = cls(estimator.history_, estimator_name=name or type(estimator).__name__)
        return disp.plot(ax=ax, metrics=metrics, **line_kwargs)


__all__ = ["TrainingCurveDisplay"]
