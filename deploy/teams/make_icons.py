"""Draw the Teams app icons (``color.png`` 192×192, ``outline.png`` 32×32) with the stdlib only.

Teams wants a full-colour 192×192 icon and a 32×32 outline icon whose pixels are
white or transparent. Both show a shield (守る, "to protect"). The drawing is
deterministic: running this script again writes the same bytes, and a test checks
that the committed PNGs are exactly what it draws.

    python deploy/teams/make_icons.py            # rewrite the PNGs beside this file
    python deploy/teams/make_icons.py --check    # exit 1 if they differ from the drawing
"""

from __future__ import annotations

import argparse
import bisect
import functools
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x1F, 0x4E, 0x8C)  # the manifest's accentColor, #1F4E8C
WHITE = (0xFF, 0xFF, 0xFF)
SUPERSAMPLE = 4  # samples per pixel side, for smooth edges

Point = tuple[float, float]
Pixel = tuple[int, int, int, int]


def _bezier(p0: Point, p1: Point, p2: Point, steps: int = 24) -> list[Point]:
    """Points on a quadratic Bézier curve, p0 excluded."""
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        x = (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t**2 * p2[0]
        y = (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t**2 * p2[1]
        out.append((x, y))
    return out


def shield(scale: float = 1.0) -> tuple[Point, ...]:
    """The shield outline in unit coordinates, scaled around its centre."""
    right = [(0.5, 0.10), (0.80, 0.20), (0.80, 0.50)]
    right += _bezier((0.80, 0.50), (0.78, 0.78), (0.5, 0.92))
    left = [(1 - x, y) for x, y in reversed(right[:-1])]
    points = right + left
    cx, cy = 0.5, 0.51
    return tuple((cx + (x - cx) * scale, cy + (y - cy) * scale) for x, y in points)


@functools.cache
def _crossings(polygon: tuple[Point, ...], y: float) -> list[float]:
    """Sorted x where the horizontal line at ``y`` crosses the polygon's edges."""
    xs = []
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xs.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
    return sorted(xs)


def inside(polygon: tuple[Point, ...], x: float, y: float) -> bool:
    """Even-odd rule point-in-polygon test."""
    return bisect.bisect_left(_crossings(polygon, y), x) % 2 == 1


def coverage(size: int, test: Callable[[float, float], bool]) -> list[list[float]]:
    """Fraction of each pixel's samples for which ``test(x, y)`` holds (unit coordinates)."""
    n = SUPERSAMPLE
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            hits = sum(
                test((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size)
                for sy in range(n)
                for sx in range(n)
            )
            row.append(hits / (n * n))
        rows.append(row)
    return rows


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def color_icon(size: int = 192) -> list[list[Pixel]]:
    """Opaque accent square with a white shield ring and a white core."""
    outer, ring_inner, core = shield(1.0), shield(0.74), shield(0.5)

    def white(x: float, y: float) -> bool:
        if inside(core, x, y):
            return True
        return inside(outer, x, y) and not inside(ring_inner, x, y)

    cover = coverage(size, white)
    return [[(*_mix(ACCENT, WHITE, c), 255) for c in row] for row in cover]


def outline_icon(size: int = 32) -> list[list[Pixel]]:
    """A white shield ring on transparent: every pixel is white, only alpha varies."""
    outer, inner = shield(1.0), shield(0.7)
    cover = coverage(size, lambda x, y: inside(outer, x, y) and not inside(inner, x, y))
    return [[(*WHITE, round(255 * c)) for c in row] for row in cover]


def png_bytes(pixels: list[list[Pixel]]) -> bytes:
    """Encode RGBA rows as a PNG (8-bit, no interlace, filter 0: deterministic)."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def icons() -> dict[str, bytes]:
    """File name → PNG bytes of every icon."""
    return {"color.png": png_bytes(color_icon()), "outline.png": png_bytes(outline_icon())}


def main(argv: list[str] | None = None) -> int:
    """Write the icons, or with ``--check`` compare them with the committed files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--out-dir", type=Path, default=HERE)
    args = parser.parse_args(argv)
    stale = []
    for name, data in icons().items():
        path = args.out_dir / name
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run {Path(__file__).name})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
