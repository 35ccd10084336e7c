"""Where the tests find the repository and the official schemas copied into it.

The schemas live in ``tests/schemas`` (see its README for their sources), so a clone of the
repository is all the tests need.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = REPO_ROOT / "tests" / "schemas"
