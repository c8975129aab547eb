"""Region geometry against PIL's own EXIF transpose, for all eight orientations."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from photod.metadata.regions import mp_rectangle, mwg_area, stored_box, stored_size


@pytest.mark.parametrize("orientation", range(1, 9))
def test_displayed_box_maps_to_the_same_pixels_in_the_stored_image(orientation: int) -> None:
    stored = np.zeros((60, 100), dtype=np.uint8)  # stored 100 wide, 60 high
    stored[12:24, 70:90] = 255  # a bright block somewhere off-centre
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    shown = np.asarray(ImageOps.exif_transpose(img))
    ys, xs = np.nonzero(shown)
    h, w = shown.shape
    displayed = (
        xs.min() / w,
        ys.min() / h,
        (xs.max() + 1 - xs.min()) / w,
        (ys.max() + 1 - ys.min()) / h,
    )

    x, y, bw, bh = stored_box(displayed, orientation)
    assert (round(x * 100), round(y * 60), round(bw * 100), round(bh * 60)) == (70, 12, 20, 12)
    assert stored_size(w, h, orientation) == (100, 60)


def test_mwg_area_is_centre_based_and_mp_rectangle_top_left() -> None:
    box = (0.1, 0.2, 0.3, 0.4)
    assert mwg_area(box, 1) == pytest.approx((0.25, 0.4, 0.3, 0.4))
    assert mp_rectangle(box, 1) == pytest.approx(box)
    # Rotated 90 degrees clockwise for display: a box at the displayed top-left lies at the
    # stored bottom-left.
    assert mp_rectangle((0.0, 0.0, 0.25, 0.5), 6) == pytest.approx((0.0, 0.75, 0.5, 0.25))
