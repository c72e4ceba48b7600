"""TrainingCurveDisplay, drawn with the Agg backend."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sknn import MLPClassifier, MLPRegressor
from sknn.plotting import TrainingCurveDisplay

mpl = pytest.importorskip("matplotlib", reason="matplotlib is an optional dependency")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_from_estimator_draws_the_history(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=6, early_stopping=True, random_state=0)
    clf.fit(X, y)
    disp = TrainingCurveDisplay.from_estimator(clf)
    assert set(disp.lines_) == {"train_loss", "valid_loss", "valid_score"}
    np.testing.assert_allclose(disp.lines_["train_loss"].get_ydata(), clf.loss_curve_)
    np.testing.assert_allclose(
        disp.lines_["valid_score"].get_ydata(), clf.history_["valid_score"]
    )
    assert list(disp.lines_["valid_loss"].get_xdata()) == list(
        range(1, clf.n_iter_ + 1)
    )
    assert disp.score_ax_ is not None and disp.figure_ is disp.ax_.figure
    assert disp.ax_.get_title() == "MLPClassifier"


def test_given_axes_and_metrics(diabetes):
    X, y = diabetes
    reg = MLPRegressor((8,), max_iter=3, random_state=0).fit(X, y)
    fig, ax = plt.subplots()
    disp = TrainingCurveDisplay.from_estimator(reg, ax=ax, metrics=["train_loss"], lw=3)
    assert disp.ax_ is ax and disp.figure_ is fig and disp.score_ax_ is None
    assert disp.lines_["train_loss"].get_linewidth() == 3
    with pytest.raises(ValueError, match="not recorded"):
        TrainingCurveDisplay.from_estimator(reg, metrics=["valid_loss"])


def test_unfitted_estimator():
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(MLPClassifier())
