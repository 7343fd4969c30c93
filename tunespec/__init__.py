"""tunespec: a compiler and linter for foundation-model tuning experiments.

The public API — `lint`, `resolve`, `build` — is loaded on first use, so that `import tunespec` (and the command
line's start-up) pays only for what it calls.
"""

__version__ = "0.1.0"
__all__ = ["build", "lint", "resolve", "__version__"]


def __getattr__(name: str):
    if name in ("build", "lint", "resolve"):
        from tunespec import api

        return getattr(api, name)
    raise AttributeError(f"module 'tunespec' has no attribute {name!r}")
