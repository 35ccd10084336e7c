"""Crafted bundles: what an attacker could hand to ``mamoru evidence verify --bundle``.

Each one starts from a genuine bundle and changes one thing the way a hostile ZIP
would: a second member with the same name (zipfile would silently use the last one),
paths that escape the folder, symlinks, directories, sizes and lines past the limits.
Every one is refused with a message naming what is wrong; the genuine bundle verifies,
with each member read exactly once.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.evidence import verify as verify_module
from bot.evidence.bundle import MANIFEST, SUMS
from bot.evidence.verify import verify_bundle
from bot.evidence.zipread import Member, ZipReader
from tests.evidence.test_verify_export import export
from tests.store.backends import Backend

# zipfile warns when the test writes a second member with the same name: that is the point.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")


@pytest.fixture
async def bundle(sqlite_backend: Backend, case_id: str, tmp_path: Path) -> Path:
    """A genuine bundle of the filled case."""
    out = tmp_path / "bundle.zip"
    await export(sqlite_backend, case_id, out)
    return out


def crafted(src: Path, dst: Path, *, after: str | None, add: list[zipfile.ZipInfo | str]) -> Path:
    """Copy ``src`` member by member, inserting ``add`` after member ``after`` (None: end)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
            if info.filename == after:
                for extra in add:
                    zout.writestr(extra, b"x" if not isinstance(extra, str) else b"evil")
        if after is None:
            for extra in add:
                zout.writestr(extra, b"evil")
    return dst


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize(
    ("after", "member", "expected"),
    [
        ("mail/000003.eml", "mail/000003.eml", "mail/000003.eml: duplicate member name"),
        (None, "mail/000003.eml", "mail/000003.eml is not part of the bundle"),
        (None, MANIFEST, "manifest.json is not part of the bundle"),
        ("report.html", "report.html", "report.html: duplicate member name"),
        ("evidence.csv", MANIFEST, "manifest.json: duplicate member name"),
        ("mail/000002.eml", "/etc/cron.d/evil", "an absolute path"),
        ("mail/000002.eml", "C:/Windows/evil.dll", "an absolute path"),
        ("mail/000002.eml", "../../.bashrc", "a path with '..'"),
        ("mail/000002.eml", "mail/../../evil", "a path with '..'"),
        ("mail/000002.eml", "mail\\..\\evil", "a backslash"),
        ("mail/000002.eml", "mail//000002.eml", "an empty part"),
        ("mail/000002.eml", "mail/\x07.eml", "control characters"),
        ("mail/000002.eml", symlink("mail/link.eml"), "a symbolic link"),
        ("mail/000002.eml", "screenshots/", "a directory entry"),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "filename", str(v)),
)
def test_crafted_members_are_refused(
    bundle: Path, tmp_path: Path, after: str | None, member: str | zipfile.ZipInfo, expected: str
) -> None:
    bad = crafted(bundle, tmp_path / "crafted.zip", after=after, add=[member])
    result = verify_bundle(bad)
    assert not result.ok
    assert result.problem is not None and expected in result.problem, result.problem


def test_sizes_and_lines_are_capped(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert verify_bundle(bundle).ok
    monkeypatch.setattr(verify_module, "MAX_MEMBER_BYTES", 200)
    result = verify_bundle(bundle)
    assert result.problem is not None and "uncompressed, over the 200 limit" in result.problem
    monkeypatch.undo()
    monkeypatch.setattr(verify_module, "MAX_BUNDLE_BYTES", 1000)
    result = verify_bundle(bundle)
    assert result.problem is not None and "inflates to over 1,000 bytes" in result.problem
    monkeypatch.undo()
    monkeypatch.setattr(verify_module, "MAX_LINE_BYTES", 300)
    result = verify_bundle(bundle)
    assert result.problem is not None and "manifest.json has a line longer" in result.problem


def test_a_member_inflating_past_its_declared_size_is_refused(bundle: Path, tmp_path: Path) -> None:
    # A ZIP bomb's trick: the directory declares a small size, the data inflates to more.
    raw = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("mail/000003.eml")
        directory_at = zf.start_dir
    record = raw.find(b"PK\x01\x02", directory_at)
    while record >= 0:
        name_len = int.from_bytes(raw[record + 28 : record + 30], "little")
        if raw[record + 46 : record + 46 + name_len] == b"mail/000003.eml":
            break
        record = raw.find(b"PK\x01\x02", record + 4)
    raw[record + 24 : record + 28] = (info.file_size // 2).to_bytes(4, "little")
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(bytes(raw))
    result = verify_bundle(bomb)
    assert result.problem is not None and "mail/000003.eml was changed" in result.problem


def test_each_member_is_read_once(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: Counter[str] = Counter()
    original = ZipReader.read

    def counting(self: ZipReader, member: Member) -> Iterator[bytes]:
        reads[member.name] += 1
        return original(self, member)

    monkeypatch.setattr(ZipReader, "read", counting)
    result = verify_bundle(bundle)
    assert result.ok, result.problem
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    assert set(reads) == set(names) and set(reads.values()) == {1}, reads
    assert names[-2:] == [MANIFEST, SUMS]
