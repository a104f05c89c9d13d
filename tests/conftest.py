"""Shared fixtures: the real test series, a tiny synthetic series, and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from implantgen.cli import main
from implantgen.phantom.dicom_write import write_ct_series
from implantgen.records import Volume

DATA = Path(__file__).parent / "data"
REAL = DATA / "real_ct"


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""

    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def small_volume(shape=(12, 40, 48), spacing=(0.9, 0.8, 2.5), seed=1) -> Volume:
    """A small CT-like volume: air, a water cylinder and a bone rod, with noise."""
    k, j, i = np.indices(shape)
    r = np.hypot((i - shape[2] / 2) * spacing[0], (j - shape[1] / 2) * spacing[1])
    hu = np.where(r < 15, 40, -1000) + np.where(r < 5, 1200, 0)
    hu = hu + np.random.default_rng(seed).normal(0, 10, shape)
    return Volume(np.rint(hu).astype(np.int16), spacing, (-20.0, -16.0, -100.0), np.eye(3))


@pytest.fixture
def small_series(tmp_path) -> tuple[Path, Volume]:
    vol = small_volume()
    folder = tmp_path / "series"
    write_ct_series(vol, folder)
    return folder, vol
