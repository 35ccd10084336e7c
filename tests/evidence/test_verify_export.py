"""Verification of a stored case and export bundles: tampering is found and named."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.domain.errors import BundleError, ChainBroken, IncidentNotFound
from bot.domain.evidence import EmailItem, decode
from bot.domain.incidents import EventKind
from bot.evidence.export import export_bundle
from bot.evidence.verify import verify_bundle, verify_case
from tests.store.backends import Backend, tamper
from tests.store.test_repository import ALICE


async def verify(backend: Backend, case_id: str):  # type: ignore[no-untyped-def]
    """Verify the stored case."""
    return await verify_case(backend.store, backend.blobs, case_id)


async def export(backend: Backend, case_id: str, out: Path):  # type: ignore[no-untyped-def]
    """Export the case to ``out``."""
    return await export_bundle(
        backend.store, backend.blobs, case_id, out, actor=ALICE, clock=backend.clock
    )


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    """Copy a ZIP, replacing (bytes) or dropping (None) some members, adding new ones."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in change:
                data = change[info.filename]
                if data is not None:
                    zout.writestr(info.filename, data)
            else:
                zout.writestr(info, zin.read(info.filename))
        for name, data in change.items():
            if name not in zin.namelist() and data is not None:
                zout.writestr(name, data)


async def test_intact_case_verifies(sqlite_backend: Backend, case_id: str) -> None:
    result = await verify(sqlite_backend, case_id)
    assert result.ok, result.problem
    assert (result.count, result.files) == (7, 7)


async def test_unknown_case(sqlite_backend: Backend) -> None:
    with pytest.raises(IncidentNotFound):
        await verify(sqlite_backend, "KH-2026-0404")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE evidence SET entry = replace(entry, '件名 2', '件名 X') WHERE seq = 4",
         "entry 4: hash does not match"),
        ("UPDATE evidence SET seq = 99 WHERE seq = 3; UPDATE evidence SET seq = 3 WHERE seq = 4;"
         " UPDATE evidence SET seq = 4 WHERE seq = 99",
         "entry 3: previous-hash link does not match"),
        ("DELETE FROM evidence WHERE seq = 7", "entry 7: chain ends at entry 6"),
        ("DELETE FROM evidence WHERE seq = 2", "entry 3: expected entry 2"),
        ("UPDATE evidence SET entry = replace(entry, '{\"case_id\"', '{ \"case_id\"')"
         " WHERE seq = 5",
         "entry 5: entry is not in canonical form"),
    ],
)  # fmt: skip
async def test_changed_rows_are_named(
    sqlite_backend: Backend, case_id: str, sql: str, expected: str
) -> None:
    await tamper(sqlite_backend, sql)
    result = await verify(sqlite_backend, case_id)
    assert not result.ok
    assert result.problem is not None and result.problem.startswith(expected), result.problem


async def test_changed_file_is_named(sqlite_backend: Backend, case_id: str) -> None:
    entries = [e async for e in sqlite_backend.store.iter_evidence(case_id)]
    item = decode(entries[2]).item
    assert isinstance(item, EmailItem)
    path = sqlite_backend.blobs.path(item.mime_sha256)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes() + b" ")
    result = await verify(sqlite_backend, case_id)
    assert result.problem == f"entry 3: file {item.mime_sha256} (eml) was changed"
    path.unlink()
    assert (await verify(sqlite_backend, case_id)).problem == (
        f"entry 3: file {item.mime_sha256} (eml) is missing"
    )


async def test_export_bundle_layout_and_verification(
    sqlite_backend: Backend, case_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.zip"
    result = await export(sqlite_backend, case_id, out)
    assert (result.count, result.files) == (7, 7)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        report = zf.read("report.html").decode()
        csv_text = zf.read("evidence.csv").decode("utf-8-sig")
    assert {"report.html", "evidence.csv", "VERIFY.txt", "manifest.json", "SHA256SUMS"} <= names
    assert "mail/000002.eml" in names and "screenshots/000007-2-evil_name.png" in names
    assert manifest["bundle"]["chain"]["head"] == result.head
    assert [e["seq"] for e in manifest["entries"]] == list(range(1, 8))
    assert "証拠報告書" in report and "<svg" in report and "<script" not in report
    assert "'=中傷の投稿" in csv_text  # formula neutralised for Excel
    assert len(csv_text.strip().splitlines()) == 8
    assert verify_bundle(out).ok
    incident = await sqlite_backend.store.load_incident(case_id)
    assert incident.timeline[-1].kind is EventKind.EXPORTED
    if shutil.which("sha256sum"):
        unpacked = tmp_path / "unpacked"
        with zipfile.ZipFile(out) as zf:
            zf.extractall(unpacked)
        run = subprocess.run(
            ["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked, capture_output=True, check=False
        )
        assert run.returncode == 0, run.stdout
        (unpacked / "mail/000003.eml").write_bytes(
            b"X" + (unpacked / "mail/000003.eml").read_bytes()[1:]
        )
        run = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked, capture_output=True)
        assert run.returncode != 0


async def test_altered_bundles_fail(sqlite_backend: Backend, case_id: str, tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    await export(sqlite_backend, case_id, out)
    with zipfile.ZipFile(out) as zf:
        eml = zf.read("mail/000003.eml")
        manifest = zf.read("manifest.json").decode()
    cases: dict[str, tuple[dict[str, bytes | None], str]] = {
        "eml byte": ({"mail/000003.eml": b"X" + eml[1:]}, "entry 3: mail/000003.eml was changed"),
        "eml gone": ({"mail/000003.eml": None}, "entry 3: mail/000003.eml is missing"),
        "report": ({"report.html": b"<html>"}, "report.html was changed"),
        "extra": ({"mail/extra.eml": b"x"}, "mail/extra.eml is not part of the bundle"),
        "entry": (
            {"manifest.json": manifest.replace("件名 1", "件名 9").encode()},
            "entry 3: hash does not match",
        ),
    }
    for label, (change, expected) in cases.items():
        altered = tmp_path / f"{label}.zip"
        rewrite(out, altered, change)
        result = verify_bundle(altered)
        assert result.problem is not None and result.problem.startswith(expected), (label, result)
    # One byte flipped inside the ZIP file itself (the .eml member is stored deflated).
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("mail/000003.eml")
    name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
    raw[info.header_offset + 30 + name_len + extra_len + 2] ^= 0xFF
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(raw))
    assert "mail/000003.eml was changed" in (verify_bundle(flipped).problem or "")
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"hello")
    with pytest.raises(BundleError):
        verify_bundle(not_zip)


async def test_export_refuses_a_broken_case(
    sqlite_backend: Backend, case_id: str, tmp_path: Path
) -> None:
    await tamper(sqlite_backend, "UPDATE evidence SET hash = prev_hash WHERE seq = 2")
    out = tmp_path / "bundle.zip"
    with pytest.raises(ChainBroken) as info:
        await export(sqlite_backend, case_id, out)
    assert info.value.seq == 2
    assert list(tmp_path.glob("bundle.zip*")) == []
