"""The output folder under a termination: a SIGTERM that lands while a hidden folder is being
made (the writability probe, the partial result) is raised once the folder is in the care of
its clean-up, so nothing is left behind.  The race was seen once in three runs of
test_cli.py::test_terminated_plan_leaves_nothing_behind (a .out.probe-* folder left)."""

from __future__ import annotations

import tempfile

import pytest

from implantgen import outdir


class Terminated(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("kind", [".probe-", ".partial-"])
def test_a_termination_while_a_folder_is_made_leaves_nothing(tmp_path, monkeypatch, kind):
    made = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):  # the signal lands just after the folder is made
        folder = made(*args, **kwargs)
        if kind in kwargs.get("prefix", ""):
            outdir.interrupt(Terminated())
        return folder

    monkeypatch.setattr(outdir.tempfile, "mkdtemp", mkdtemp)
    with pytest.raises(Terminated):
        with outdir.atomic_output_dir(tmp_path / "out") as tmp:
            (tmp / "file").write_text("x")
    assert list(tmp_path.iterdir()) == []


def test_a_termination_outside_such_a_step_is_raised_at_once():
    with pytest.raises(Terminated):
        outdir.interrupt(Terminated())
