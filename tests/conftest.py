"""Shared test configuration: the repository root is importable, so test modules can
use the shared helpers as ``from tests.helpers.simnet import build_network`` whatever
directory pytest was started from and whatever import mode it uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
