"""Name -> builder registries: one per stage, so backends swap by name."""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from glassvid.errors import BackendError

T = TypeVar("T")


class Registry(Generic[T]):
    """Builders of one stage's backends, looked up by name."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._builders: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(builder: Callable[..., T]) -> Callable[..., T]:
            self._builders[name] = builder
            return builder

        return deco

    def names(self) -> list[str]:
        return sorted(self._builders)

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Build backend ``name``; an unknown name lists the known ones."""
        if name not in self._builders:
            raise BackendError(f"unknown {self.stage} backend '{name}'; known: {', '.join(self.names())}")
        return self._builders[name](*args, **kwargs)


def require_torch(feature: str) -> Any:
    """Import torch for a model backend, or explain how to install it."""
    try:
        import torch
    except ImportError:
        raise BackendError(f"{feature} needs PyTorch: pip install 'glassvid[models]' (or use the classic backend, the default)") from None
    return torch
