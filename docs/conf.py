"""Sphinx configuration for the sknn documentation."""

import functools
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import sknn

project = "sknn"
author = "The sknn developers"
copyright = "2026, The sknn developers"
version = release = sknn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
# Document sknn's own methods, also those inherited from sknn's base classes, but not
# the ones torch's Module and scikit-learn's bases bring (their docstrings point into
# those projects' own documentation).
autodoc_default_options = {
    "members": True,
    "inherited-members": "Module, BaseEstimator, ClassifierMixin, RegressorMixin, "
    "TransformerMixin, _MetadataRequester, object",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = "sknn"
nitpicky = False

intersphinx_mapping = {}  # offline builds: no inventories are fetched


def _have_fashion_mnist() -> bool:
    """Whether Fashion-MNIST's files are where :func:`sknn.datasets.load_fashion_mnist`
    looks (``SKNN_FASHION_MNIST``, else the Debian package's folder)."""
    from pathlib import Path

    from sknn.datasets._fashion_mnist import _FILES, DEBIAN_PATH, _find

    folder = Path(os.environ.get("SKNN_FASHION_MNIST", DEBIAN_PATH))
    return all(_find(folder, stem) for pair in _FILES.values() for stem in pair)


# Gallery examples that need Fashion-MNIST are executed only when its files are
# installed; without them their pages are built from the source, without outputs, so
# that the docs build needs nothing beyond the ``docs`` extra.
_EXECUTED = r"/plot_|/quickstart"
if not _have_fashion_mnist():
    _EXECUTED = r"/plot_(?!fine_tuning)|/quickstart"
    print(
        "sknn docs: Fashion-MNIST not found (apt install dataset-fashion-mnist, or set "
        "SKNN_FASHION_MNIST): examples/plot_fine_tuning.py is shown without running."
    )

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": _EXECUTED,
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members that scikit-learn's or torch's bases bring in: their
    docstrings point into those projects' own documentation."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    # A property has no __module__ of its own: look at its getter (so scikit-learn's
    # BaseSearchCV.classes_ and .n_features_in_ are left out like its methods).
    if isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, functools.cached_property):
        obj = obj.func
    module = getattr(obj, "__module__", None) or ""
    if module.startswith(("sklearn.", "torch.")):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
