"""Assemble what App Service runs: ``deploy/app/`` with the code and a locked requirements.txt.

App Service's Python build (Oryx) needs a ``requirements.txt`` at the root of the deployed
folder; ``pyproject.toml`` alone would be built with Poetry. This script copies the
packages (``bot``, ``cards``, ``graph``) and writes ``requirements.txt``: the blocks of
``requirements.lock`` (versions and hashes) for the runtime dependencies only, found by
walking the installed packages' metadata from ``[project].dependencies``. No network.

    .venv/bin/python deploy/scripts/build_app.py [--out deploy/app]

Used by ``azd`` (the ``prepackage`` hook in azure.yaml) and by .github/workflows/deploy.yml.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import re
import shutil
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cards", "graph")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
KEEP = {".gitignore"}  # deploy/app/.gitignore keeps the folder in git and its output out


class BuildError(Exception):
    """The app folder cannot be built; the message says why."""


def runtime_requirements(pyproject: Path) -> list[Requirement]:
    """``[project].dependencies`` of pyproject.toml."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return [Requirement(r) for r in data["project"]["dependencies"]]


def closure(roots: list[Requirement]) -> set[str]:
    """Canonical names of ``roots`` and everything they need, from installed metadata."""
    seen: set[str] = set()
    todo: list[tuple[Requirement, frozenset[str]]] = [(r, frozenset(r.extras)) for r in roots]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in done:
            continue
        done.add((name, extras))
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError as exc:
            raise BuildError(f"{req.name} is not installed: run scripts/setup.sh first") from exc
        for line in requires:
            dep = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in envs):
                todo.append((dep, frozenset(dep.extras)))
    return seen


def lock_blocks(lock: Path) -> dict[str, str]:
    """Canonical name → the lock file's block for it (pin line, hashes, ``# via`` comments)."""
    blocks: dict[str, str] = {}
    current: list[str] = []
    name = ""
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if match:
            if name:
                blocks[name] = "\n".join(current)
            name, current = canonicalize_name(match.group(1)), [line]
        elif name and (line.startswith(" ") or not line.strip()):
            current.append(line)
        elif name:
            blocks[name] = "\n".join(current)
            name, current = "", []
    if name:
        blocks[name] = "\n".join(current)
    return {k: v.rstrip() for k, v in blocks.items()}


def requirements_txt(root: Path = ROOT) -> str:
    """The runtime part of requirements.lock, with hashes, for App Service."""
    needed = closure(runtime_requirements(root / "pyproject.toml"))
    needed.discard("mamoru")
    blocks = lock_blocks(root / "requirements.lock")
    missing = sorted(needed - blocks.keys())
    if missing:
        raise BuildError(f"not in requirements.lock: {', '.join(missing)} (run make lock)")
    header = (
        "# Runtime dependencies of Mamoru for App Service, taken from requirements.lock\n"
        "# by deploy/scripts/build_app.py. Do not edit: edit pyproject.toml, run make lock.\n"
    )
    return header + "\n".join(blocks[n] for n in sorted(needed)) + "\n"


def build(out: Path, root: Path = ROOT) -> list[str]:
    """Fill ``out`` with the packages and requirements.txt; returns the top-level entries."""
    text = requirements_txt(root)
    out.mkdir(parents=True, exist_ok=True)
    for entry in out.iterdir():
        if entry.name in KEEP:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for package in PACKAGES:
        shutil.copytree(root / package, out / package, ignore=IGNORED)
    (out / "requirements.txt").write_text(text, encoding="utf-8")
    return sorted(p.name for p in out.iterdir() if p.name not in KEEP)


def main(argv: list[str] | None = None) -> int:
    """Build the app folder; exit code 1 with a message when it cannot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "deploy" / "app")
    args = parser.parse_args(argv)
    try:
        entries = build(args.out)
    except BuildError as exc:
        print(f"build_app: {exc}", file=sys.stderr)
        return 1
    print(f"build_app: {args.out}: {', '.join(entries)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
