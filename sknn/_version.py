"""The version of sknn (a module of its own, so that modules can read it without
importing the package's public API)."""

__version__ = "0.1.0.dev0"
