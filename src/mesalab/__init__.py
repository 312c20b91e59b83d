"""mesalab: a laboratory for learned optimization (mesa-optimization)."""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Looked up on first use, not at import: `mesalab-gym.pth` imports this package at
    # every interpreter start-up, and importlib.metadata alone costs ~80 ms.
    if name != "__version__":
        raise AttributeError(f"module 'mesalab' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mesalab")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0+source"
