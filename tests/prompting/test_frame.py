"""The crop the network sees: frames map both ways, pyramids read the right pixels, prompts are
drawn where they were given."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from napari_fada.prompting.clicks import Click
from napari_fada.prompting.frame import (
    Frame,
    Pyramid,
    box_plane,
    click_disks,
    clicks_in_frame,
    region_frame,
    whole_frame,
)
from napari_fada.prompting.session import prompt_frame


@pytest.mark.parametrize("angle, flip", [(0.0, False), (0.4, False), (-0.3, True)])
def test_to_crop_inverts_image_points(angle, flip):
    frame = Frame(cx=120.5, cy=80.0, side=64.0, angle=angle, flip=flip)
    points = frame.image_points(16)
    for row, col in [(0, 0), (3, 11), (15, 15)]:
        x, y = points[row, col].tolist()
        assert frame.to_crop(x, y, 16) == pytest.approx((col, row), abs=1e-4)


def test_a_crop_shows_the_region_it_frames():
    image = np.zeros((100, 200), dtype=np.uint8)
    image[40:70, 140:170] = 255  # a bright square, pixels 140..169 x 40..69
    crop = Pyramid(image).crop(region_frame((140, 40, 170, 70), 2.0), 20)
    bright = (crop > crop.mean()).numpy()
    assert bright[5:15, 5:15].all()  # the square fills the middle half of the crop
    assert not bright[:5].any() and not bright[:, :5].any()
    assert not bright[15:].any() and not bright[:, 15:].any()


def test_a_large_frame_reads_a_coarser_level_without_losing_the_object():
    image = np.zeros((512, 512), dtype=np.uint8)
    image[200:300, 200:300] = 255
    crop = Pyramid(image).crop(whole_frame(512, 512), 16).numpy()
    assert crop[7, 7] > crop[0, 0] and crop[7, 7] > crop[15, 15]


def test_box_and_clicks_land_where_they_were_given():
    frame = Frame(cx=50.0, cy=50.0, side=40.0)  # image 30..70 both ways, 1 crop px = 2.5 px
    box = box_plane((40.0, 30.0, 60.0, 70.0), frame.image_points(16)).numpy()
    assert box[:, 4:12].all() and not box[:, :4].any() and not box[:, 12:].any()
    ((col, row, positive),) = clicks_in_frame([Click(55.0, 45.0, True)], frame, 16)
    assert (col, row, positive) == pytest.approx((9.5, 5.5, True))
    disks = click_disks([(col, row)], 16, 1.0)
    assert disks[5:7, 9:11].all() and disks.sum() == 4


def test_prompt_frame_follows_box_mask_and_clicks():
    assert prompt_frame(100, 200, None, [Click(10, 10, True)], None, 1.4) == whole_frame(100, 200)
    frame = prompt_frame(100, 200, (20.0, 20.0, 40.0, 60.0), [], None, 1.5)
    assert (frame.cx, frame.cy, frame.side) == (30.0, 40.0, 60.0)
    mask = np.zeros((100, 200), dtype=bool)
    mask[10:20, 100:120] = True
    frame = prompt_frame(100, 200, None, [Click(150.0, 15.0, True)], mask, 1.0)
    assert frame.cx == pytest.approx(125.5) and frame.side == pytest.approx(51.0)
    assert not math.isnan(frame.cy)


def test_pyramid_refuses_a_colour_array():
    with pytest.raises(ValueError, match="2-D"):
        Pyramid(np.zeros((4, 4, 3)))


def test_frame_points_are_float32_tensors():
    assert Frame(0, 0, 1).image_points(4).dtype == torch.float32
