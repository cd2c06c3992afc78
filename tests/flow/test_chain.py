"""Chaining consecutive flows (glassvid.flow.ops.chain): where a frame's pixels end up."""

from __future__ import annotations

import numpy as np
import pytest

from glassvid.flow.ops import chain


def test_constant_motions_add_up() -> None:
    a = np.full((20, 30, 2), (1.5, -0.5), np.float32)
    b = np.full((20, 30, 2), (2.0, 1.0), np.float32)
    assert np.allclose(chain([a, b]), (3.5, 0.5))


def test_the_second_flow_is_read_where_the_pixel_went() -> None:
    # frame 0 -> 1: everything moves 4 px right; frame 1 -> 2: only columns 10 and beyond move down
    first = np.zeros((16, 24, 2), np.float32)
    first[..., 0] = 4.0
    second = np.zeros((16, 24, 2), np.float32)
    second[:, 10:, 1] = 3.0
    total = chain([first, second])
    assert np.allclose(total[:, 8], (4.0, 3.0))  # column 8 reached column 12, which moves down
    assert np.allclose(total[:, 2], (4.0, 0.0))  # column 2 reached column 6, which does not


def test_no_flow_is_refused() -> None:
    with pytest.raises(ValueError):
        chain([])
