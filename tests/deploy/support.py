"""Helpers for the deployment tests: a tiny PNG decoder and the paths of installed tools."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
INFRA = DEPLOY / "infra"
TEAMS = DEPLOY / "teams"
ATK = REPO_ROOT / "node_modules" / ".bin" / "atk"
CHECKOV = REPO_ROOT / ".venv" / "tools" / "checkov" / "bin" / "checkov"
# The localization schema ships inside the Agents Toolkit (not among the copies in tests/schemas).
LOCALIZATION_SCHEMA = (
    REPO_ROOT
    / "node_modules/@microsoft/app-manifest/build/json-schemas/teams/v1.30"
    / "MicrosoftTeams.Localization.schema.json"
)


@dataclass(frozen=True)
class Image:
    """A decoded 8-bit PNG: size, colour type and RGBA pixels row by row."""

    width: int
    height: int
    color_type: int
    pixels: list[list[tuple[int, int, int, int]]]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (all five filter types)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color_type in (2, 6) and interlace == 0, (depth, color_type, interlace)
    channels = 4 if color_type == 6 else 3
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            predictor = (0, left, up, (left + up) // 2, _paeth(left, up, up_left))[kind]
            row[i] = (row[i] + predictor) & 0xFF
        rows.append(row)
        previous = row
    pixels = []
    for row in rows:
        out = []
        for x in range(width):
            px = row[x * channels : (x + 1) * channels]
            out.append((px[0], px[1], px[2], px[3] if channels == 4 else 255))
        pixels.append(out)
    return Image(width, height, color_type, pixels)


def repo_path(relative: str) -> Path:
    """A path inside the repository."""
    return REPO_ROOT / relative
