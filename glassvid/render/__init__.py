"""Glass rendering: optics (pure functions) and the per-frame render."""

from glassvid.render.glass import GlassLayer, render_glass

__all__ = ["GlassLayer", "render_glass"]
