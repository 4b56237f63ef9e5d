#!/usr/bin/python3
"""Makes the derived image fixtures in tests/data/images from the committed
photos (run once by hand; its outputs are committed):

  butterfly_exif6.jpg  butterfly stored sideways with EXIF orientation 6
  butterfly_rgba.png   a 164x118 copy with an alpha channel
  butterfly_16bit.png  the same copy as 16-bit RGB
  truncated.jpg        the first 60% of messi5.jpg
  bomb.png             a valid PNG header declaring 50000 x 50000 pixels
  not_an_image.jpg     text with a .jpg name
  empty.png            0 bytes
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images")
p = lambda n: os.path.join(D, n)  # noqa: E731

b = Image.open(p("butterfly.jpg")).convert("RGB")
sideways = b.transpose(Image.Transpose.ROTATE_90)  # stored rotated; orientation 6 turns it back
exif = Image.Exif()
exif[0x0112] = 6
sideways.save(p("butterfly_exif6.jpg"), quality=92, exif=exif.tobytes())
small = b.resize((164, 118), Image.Resampling.BILINEAR)
rgba = small.copy()
rgba.putalpha(Image.fromarray((np.indices((small.height, small.width))[1] * 2 % 256).astype(np.uint8)))
rgba.save(p("butterfly_rgba.png"))
data = open(p("messi5.jpg"), "rb").read()
open(p("truncated.jpg"), "wb").write(data[: int(len(data) * 0.6)])


def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


# 16-bit RGB PNG written by hand (PIL cannot write 16-bit colour).
arr16 = np.asarray(small).astype(">u2") * 257
raw = b"".join(b"\0" + row.tobytes() for row in arr16)
png16 = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", small.width, small.height, 16, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open(p("butterfly_16bit.png"), "wb").write(png16)
ihdr = struct.pack(">IIBBBBB", 50000, 50000, 8, 2, 0, 0, 0)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")
open(p("bomb.png"), "wb").write(png)
open(p("not_an_image.jpg"), "w").write("this is not a JPEG\n")
open(p("empty.png"), "wb").close()
print("fixtures written to", D)
