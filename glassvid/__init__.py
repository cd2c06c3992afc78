"""glassvid: turn a video of an object into a video where that object is clear glass.

The public API is small: :func:`convert` for one call, :class:`Pipeline` for control
over passes and caching, :func:`evaluate` for measuring against ground truth.
Heavy modules load lazily so ``glassvid --version`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "convert", "Pipeline", "Config", "Prompt", "evaluate"]

if TYPE_CHECKING:  # pragma: no cover
    from glassvid.config import Config
    from glassvid.pipeline import Pipeline, convert
    from glassvid.prompts import Prompt


def __getattr__(name: str) -> Any:
    if name in ("convert", "Pipeline"):
        from glassvid import pipeline

        return getattr(pipeline, name)
    if name == "Config":
        from glassvid.config import Config

        return Config
    if name == "Prompt":
        from glassvid.prompts import Prompt

        return Prompt
    if name == "evaluate":
        from glassvid.evaluate import evaluate

        return evaluate
    raise AttributeError(f"module 'glassvid' has no attribute {name!r}")
