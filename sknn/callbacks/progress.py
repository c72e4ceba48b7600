"""A tqdm progress bar over epochs."""

from __future__ import annotations

from collections.abc import Sequence

from sknn.callbacks.base import Callback


class ProgressBar(Callback):
    """Show a `tqdm <https://tqdm.github.io>`_ progress bar over the epochs.

    Parameters
    ----------
    metrics : sequence of str, default=("train_loss", "valid_loss", "valid_score")
        Recorded metrics shown next to the bar (those present).
    leave : bool, default=True
        Keep the bar on screen once training ends.
    disable : bool, default=False
        Hide the bar (handy to switch it off in a parameter search).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import ProgressBar
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=3, random_state=0,
    ...                     callbacks=[ProgressBar(disable=True)]).fit(X, y)
    >>> clf.callbacks_[0].n_epochs_
    3
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("train_loss", "valid_loss", "valid_score"),
        *,
        leave: bool = True,
        disable: bool = False,
    ) -> None:
        self.metrics = metrics
        self.leave = leave
        self.disable = disable

    def on_train_begin(self, trainer) -> None:
        from tqdm.auto import tqdm

        self.n_epochs_ = 0
        self._bar = tqdm(
            total=trainer.config.max_epochs,
            unit="epoch",
            leave=self.leave,
            disable=self.disable,
        )

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.n_epochs_ += 1
        shown = {
            k: f"{record[k]:.4g}" for k in self.metrics if record.get(k) is not None
        }
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, trainer) -> None:
        bar = getattr(self, "_bar", None)
        if bar is not None:
            bar.close()
        self._bar = None  # the fitted estimator stays picklable
