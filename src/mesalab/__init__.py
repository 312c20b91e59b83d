"""mesalab: a laboratory for learned optimization (mesa-optimization)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mesalab")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
