"""Errors a user can act on.

Every error glassvid raises for bad input subclasses :class:`GlassvidError` and the
builtin that fits, and its message says what was expected, what came, and the fix,
in one line. The CLI prints the message and exits with code 2; anything else is a bug.
"""

from __future__ import annotations


class GlassvidError(Exception):
    """Base of every user-facing error glassvid raises."""


class InputError(GlassvidError, ValueError):
    """An input file, folder or pattern cannot be used."""


class DecodeError(InputError):
    """A video or image cannot be decoded (missing, unreadable, truncated, no video)."""


class PromptError(GlassvidError, ValueError):
    """A segmentation prompt (box, point, mask, prompt frame) is invalid."""


class ConfigError(GlassvidError, ValueError):
    """An unknown preset, config key, or a value out of its range."""


class OutputError(GlassvidError, OSError):
    """An output path cannot be written (equals the input, unwritable, exists)."""


class BackendError(GlassvidError, RuntimeError):
    """A stage backend cannot run: unknown name, missing extra, missing checkpoint."""


class CacheError(GlassvidError, RuntimeError):
    """A work directory is unusable or incomplete."""
