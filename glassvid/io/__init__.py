"""Video and image I/O: probe, decode, encode, image sequences.

Convention: frames are ``HxWx3`` uint8 RGB, C-contiguous; frame indices are 0-based
positions in the source; ``pts`` is in ``ClipInfo.time_base`` units.

>>> info = probe("in.mp4")
>>> with open_sink("out.mp4", info, audio_from="in.mp4") as sink:
...     for frame in read_frames("in.mp4"):
...         sink.write(frame)
"""

from __future__ import annotations

from glassvid.io.images import list_sequence, read_image, write_image
from glassvid.io.sink import BackgroundWriter, FrameSink, check_output_path, open_sink
from glassvid.io.source import ClipInfo, Frame, probe, read_frames
from glassvid.io.synth import write_clip

__all__ = [
    "BackgroundWriter",
    "ClipInfo",
    "Frame",
    "FrameSink",
    "check_output_path",
    "list_sequence",
    "open_sink",
    "probe",
    "read_frames",
    "read_image",
    "write_clip",
    "write_image",
]
