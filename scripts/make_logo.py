#!/usr/bin/env python3
"""Draws the gpt2lab kernel logo (kernelspec/gpt2lab/logo-{32x32,64x64}.png) with the
standard library only: a causal attention pattern (lower-triangular heatmap) on a dark tile.
Run it again after changing the drawing; the PNGs are committed."""
import struct, zlib
from pathlib import Path

def png(path, w, h, pixels):
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    Path(path).write_bytes(data)

def draw(n):
    bg, pad, cells = (24, 28, 40, 255), n // 8, 4
    size = (n - 2 * pad) // cells
    off = (n - size * cells) // 2
    # attention weights of a 4-token causal pattern: each row sums to 1
    weights = [[1.0], [0.3, 0.7], [0.15, 0.25, 0.6], [0.1, 0.2, 0.3, 0.4]]
    rows = []
    radius = n // 6
    for y in range(n):
        row = []
        for x in range(n):
            # rounded-corner tile
            cx = min(max(x, radius), n - 1 - radius)
            cy = min(max(y, radius), n - 1 - radius)
            if (x - cx) ** 2 + (y - cy) ** 2 > radius ** 2:
                row.append((0, 0, 0, 0))
                continue
            px = bg
            i, j = (y - off) // size, (x - off) // size
            inner = (y - off) % size not in (0, size - 1) and (x - off) % size not in (0, size - 1)
            if 0 <= i < cells and 0 <= j < cells and inner:
                if j <= i:
                    t = weights[i][j]
                    # dark orange -> bright yellow
                    px = (int(200 + 55 * t), int(70 + 170 * t), int(20 + 40 * t), 255)
                else:
                    px = (48, 54, 72, 255)
            row.append(px)
        rows.append(row)
    return rows

if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "kernelspec" / "gpt2lab"
    for n in (32, 64):
        png(out / f"logo-{n}x{n}.png", n, n, draw(n))
        print(f"wrote {out / f'logo-{n}x{n}.png'}")
