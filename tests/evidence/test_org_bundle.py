"""The combined bundle of an organisational case, written and then attacked.

Two cases merged; the combined bundle must verify as a whole and each member bundle on its
own; a file added, a member bundle altered inside (with the outer hashes redone to match),
or an org manifest claiming another chain head must each be caught and named.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from bot.evidence.org_bundle import export_org_bundle, is_org_bundle, verify_org_bundle
from bot.evidence.verify import verify_bundle
from bot.store.sql import SqlStore
from tests.evidence.conftest import fill_case
from tests.evidence.test_cli import run
from tests.store.backends import Backend
from tests.store.test_repository import ALICE, draft, email


async def combined(backend: Backend, out: Path) -> tuple[Path, str, str]:
    first = await fill_case(backend)
    second = (await backend.store.create_incident(draft(), idempotency_key="second")).id
    item, eml = email(9)
    await backend.store.record_email(second, item, eml)
    store = backend.store
    assert isinstance(store, SqlStore)
    org = await store.merge_cases(
        "", [await store.load_incident(first), await store.load_incident(second)], by=ALICE
    )
    path = out / f"{org.id}.zip"
    seen: list[str] = []

    async def archived(case_id: str, bundle: Path) -> None:
        assert verify_bundle(bundle).ok  # each member bundle is whole before it is packed
        seen.append(case_id)

    result = await export_org_bundle(
        store, backend.blobs, org, path, actor=ALICE, clock=backend.clock, on_member=archived
    )
    assert seen == [first, second] and [m.case_id for m in result.members] == seen
    return path, first, second


def rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """Copy a ZIP, replacing (or, for None, dropping) members, and adding new ones."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            if info.filename in change:
                data = change.pop(info.filename)
                if data is not None:
                    zout.writestr(info, data)
            else:
                zout.writestr(info, zin.read(info))
        for name, data in change.items():
            assert data is not None
            zout.writestr(name, data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_the_combined_bundle_verifies_whole_and_in_parts(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    path, first, second = await combined(sqlite_backend, tmp_path)
    assert is_org_bundle(path)
    result = verify_org_bundle(path)
    assert result.ok, result.problem
    assert [m.case_id for m in result.members] == [first, second]
    assert result.files == sum(m.files for m in result.members) > 0
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [
            f"cases/{first}.zip",
            f"cases/{second}.zip",
            "VERIFY.txt",
            "org-manifest.json",
            "SHA256SUMS",
        ]
        # Stored, not recompressed: the member's bytes are the bundle as exported.
        assert archive.getinfo(f"cases/{first}.zip").compress_type == zipfile.ZIP_STORED
        verify_text = archive.read("VERIFY.txt").decode()
    assert "mamoru evidence verify --bundle" in verify_text and first in verify_text
    # A case bundle is not mistaken for a combined one.
    alone = tmp_path / "alone.zip"
    with zipfile.ZipFile(path) as archive:
        alone.write_bytes(archive.read(f"cases/{first}.zip"))
    assert not is_org_bundle(alone) and verify_bundle(alone).ok


async def test_tampering_is_caught_and_named(sqlite_backend: Backend, tmp_path: Path) -> None:
    path, first, second = await combined(sqlite_backend, tmp_path)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("org-manifest.json"))
        member = archive.read(f"cases/{second}.zip")
        verify_txt = archive.read("VERIFY.txt")

    extra = tmp_path / "extra.zip"
    rewrite(path, extra, {"cases/KH-2026-0999.zip": b"PK"})
    assert verify_org_bundle(extra).problem == (
        "cases/KH-2026-0999.zip is not part of the bundle (unexpected file)"
    )

    # Inside the second member, one mail altered; the outer manifest and sums made to
    # match the altered member: only verifying the member itself can catch it.
    inner = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(member)) as zin, zipfile.ZipFile(inner, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, b"X" + data[1:] if info.filename.startswith("mail/") else data)
    altered = inner.getvalue()
    entries = [
        {**m, "sha256": sha(altered), "size": len(altered)} if m["case_id"] == second else m
        for m in manifest["members"]
    ]
    forged_manifest = json.dumps({**manifest, "members": entries}).encode()
    sums = "".join(
        f"{sha(data)}  {name}\n"
        for name, data in (
            (f"cases/{first}.zip", None),
            (f"cases/{second}.zip", altered),
            ("VERIFY.txt", verify_txt),
            ("org-manifest.json", forged_manifest),
        )
        if data is not None
    )
    with zipfile.ZipFile(path) as archive:
        first_sum = f"{sha(archive.read(f'cases/{first}.zip'))}  cases/{first}.zip\n"
    forged = tmp_path / "forged.zip"
    rewrite(
        path,
        forged,
        {
            f"cases/{second}.zip": altered,
            "org-manifest.json": forged_manifest,
            "SHA256SUMS": (first_sum + sums).encode(),
        },
    )
    result = verify_org_bundle(forged)
    assert not result.ok
    assert result.problem is not None and result.problem.startswith(f"cases/{second}.zip: ")
    assert "was changed" in result.problem
    assert [m.ok for m in result.members] == [True, False]  # the first still verifies

    # A manifest claiming another chain head for an intact member.
    claims = [
        {**m, "chain": {**m["chain"], "head": "0" * 64}} if m["case_id"] == first else m
        for m in manifest["members"]
    ]
    lying_manifest = json.dumps({**manifest, "members": claims}).encode()
    with zipfile.ZipFile(path) as archive:
        sums_lines = archive.read("SHA256SUMS").decode().splitlines()
    fixed = [
        f"{sha(lying_manifest)}  org-manifest.json" if line.endswith("org-manifest.json") else line
        for line in sums_lines
    ]
    lying = tmp_path / "lying.zip"
    rewrite(
        path,
        lying,
        {"org-manifest.json": lying_manifest, "SHA256SUMS": ("\n".join(fixed) + "\n").encode()},
    )
    assert verify_org_bundle(lying).problem == (
        f"cases/{first}.zip: its chain head differs from the one org-manifest.json lists"
    )
    # The command says FAILED for each, and OK for the original.
    assert run("evidence", "verify", "--bundle", str(path)) == 0
    for bad in (extra, forged, lying):
        assert run("evidence", "verify", "--bundle", str(bad)) == 1
