"""Small image files without an imaging library: PNG in and out, and X11 window dumps (XWD).

Used by the screenshot script and by the viewer and dashboard tests (Xvfb's ``-fbdir`` keeps
its screen as an XWD file, always current; chromium's screenshots are PNG).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def read_png(data: bytes) -> Image:
    """The pixels of a PNG (8-bit RGB or RGBA, not interlaced) as uint8 (height, width, ch)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), np.int32)
    c = channels
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        up = out[y - 1] if y else np.zeros_like(line)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + up) & 255
        else:
            row = np.zeros_like(line)
            for x in range(line.size):  # filters 1, 3, 4 depend on the decoded left neighbour
                left = row[x - c] if x >= c else 0
                upper_left = up[x - c] if x >= c else 0
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up[x]) // 2
                elif kind == 4:
                    p = left + up[x] - upper_left
                    pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - upper_left)
                    pred = left if pa <= pb and pa <= pc else (up[x] if pb <= pc else upper_left)
                else:
                    raise ValueError(f"bad PNG filter {kind}")
                row[x] = (line[x] + pred) & 255
        out[y] = row
    return out.astype(np.uint8).reshape(height, width, channels)


def write_png(path: Path, pixels: Image) -> None:
    """Write RGB (h, w, 3) or RGBA (h, w, 4) uint8 pixels as a PNG."""
    height, width, channels = pixels.shape
    colour = {3: 2, 4: 6}[channels]
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # filter 0 on every row
    rows[:, 1:] = np.ascontiguousarray(pixels, np.uint8).reshape(height, -1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def read_xwd(data: bytes) -> Image:
    """The RGB pixels (h, w, 3) of an XWD dump with 24/32 bits a pixel (Xvfb's ``-fbdir``)."""
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format = fields[0], fields[1], fields[2]
    width, height, byte_order, bpp, stride = fields[4], fields[5], fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask, ncolors = fields[14], fields[15], fields[16], fields[19]
    if version != 7 or pixmap_format != 2 or bpp != 32:
        raise ValueError(f"unsupported XWD: version {version}, format {pixmap_format}, "
                         f"{bpp} bits a pixel")
    start = header_size + 12 * ncolors
    words = np.frombuffer(data, "<u4" if byte_order == 0 else ">u4",
                          count=height * stride // 4, offset=start)
    words = words.reshape(height, stride // 4)[:, :width]

    def channel(mask: int) -> npt.NDArray[np.uint8]:
        shift = (mask & -mask).bit_length() - 1
        return ((words & mask) >> shift).astype(np.uint8)

    return np.stack([channel(red_mask), channel(green_mask), channel(blue_mask)], axis=-1)
