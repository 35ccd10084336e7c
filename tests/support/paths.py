"""Where the tests find the official schemas: ``../shared/schemas`` beside the repository.

``MAMORU_SHARED_DIR`` overrides it for a checkout placed elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("MAMORU_SHARED_DIR") or REPO_ROOT.parent / "shared")
SCHEMAS_DIR = SHARED_DIR / "schemas"
