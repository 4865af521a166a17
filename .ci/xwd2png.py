"""Convert an X window dump (xwd, 24/32-bit TrueColor ZPixmap) to PNG: python xwd2png.py IN OUT.

Used by .ci/dialog-screenshot.sh (the chroot has xwd but no image converter). Needs numpy + Pillow
(the project's .venv has both).
"""
import struct
import sys

import numpy as np
from PIL import Image


def read_xwd(path):
    data = open(path, "rb").read()
    fields = struct.unpack(">25I", data[:100])
    header_size, version, fmt, depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask = fields[14:17]
    ncolors = fields[19]
    if version != 7 or fmt != 2 or bits_per_pixel not in (24, 32):
        raise SystemExit(f"{path}: only 24/32-bit ZPixmap xwd files are handled (got version {version}, "
                         f"format {fmt}, {bits_per_pixel} bpp)")
    off = header_size + 12 * ncolors
    bpp = bits_per_pixel // 8
    rows = np.frombuffer(data, dtype=np.uint8, count=bytes_per_line * height, offset=off)
    px = rows.reshape(height, bytes_per_line)[:, :width * bpp].reshape(height, width, bpp).astype(np.uint32)
    order = range(bpp) if byte_order == 0 else range(bpp - 1, -1, -1)   # 0 = least significant first
    v = sum(px[..., i] << (8 * k) for k, i in enumerate(order))

    def channel(mask):
        shift = (mask & -mask).bit_length() - 1
        return ((v & mask) >> shift).astype(np.uint8)

    return np.dstack([channel(red_mask), channel(green_mask), channel(blue_mask)])


if __name__ == "__main__":
    Image.fromarray(read_xwd(sys.argv[1])).save(sys.argv[2])
