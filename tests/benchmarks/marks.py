"""Skip marks for tests that need raw datasets under ``$UGT_DATA``."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = os.environ.get("UGT_DATA")


def needs_data(*parts: str) -> pytest.MarkDecorator:
    """Skips a test unless ``$UGT_DATA/<parts>`` is a folder."""
    return pytest.mark.skipif(
        not ROOT or not Path(ROOT, *parts).is_dir(),
        reason=f"set UGT_DATA to a folder holding {'/'.join(parts)}")
