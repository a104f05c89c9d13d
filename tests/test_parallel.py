"""implantgen.parallel: work in a forked child comes back as if done here, errors included."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from implantgen.errors import PlanNotFeasible
from implantgen.parallel import Background, Inbox, SharedMemory, WorkerDied, can_fork, shared_memory

pytestmark = pytest.mark.skipif(not can_fork(), reason="fork is used on Linux only")


def _sum_and_pid(a):
    return float(a.sum()), os.getpid()


def _refuse():
    raise PlanNotFeasible("The canal is 4.0 mm wide, under the 6.0 mm a stem needs.")


def _unpicklable():
    class Local(Exception):
        pass
    raise Local("made in the child")


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def test_result_comes_from_a_child_that_saw_the_parents_array():
    big = np.arange(2_000_000, dtype=np.float64)  # inherited by the fork, not pickled
    with Background(_sum_and_pid, big) as job:
        total, pid = job.result()
    assert total == float(big.sum()) and pid != os.getpid()


def test_an_error_in_the_child_is_raised_here_with_its_type_and_sentence():
    with Background(_refuse) as job, pytest.raises(PlanNotFeasible) as info:
        job.result()
    assert info.value.sentence.startswith("The canal is 4.0 mm wide") and info.value.exit_code == 3
    assert "in the background worker" in str(info.value.__cause__)  # the child's traceback, for --debug
    with Background(_unpicklable) as job, pytest.raises(RuntimeError, match="Local: made in the child"):
        job.result()


def test_a_child_that_dies_is_an_error_not_a_hang():
    with Background(_die) as job, pytest.raises(WorkerDied, match="exit code -9"):
        job.result()


def test_leaving_early_ends_the_child():
    job = Background(time.sleep, 30)
    child = job._proc
    with job:
        pass  # an error in the parent leaves the block like this, before result()
    assert not child.is_alive() and child.exitcode == -signal.SIGKILL


def test_without_fork_the_work_is_done_here(monkeypatch):
    monkeypatch.setenv("IMPLANTGEN_FORK", "0")
    with Background(_sum_and_pid, np.ones(3)) as job:
        assert job.result() == (3.0, os.getpid())
    with Background(_refuse) as job, pytest.raises(PlanNotFeasible):
        job.result()
    # done when its result is asked for: a value put in its inbox after it was made is there
    inbox = Inbox(shared_memory(1 << 20))
    assert inbox.shared is None
    with inbox, Background(_from_inbox, inbox) as job:
        inbox.put({"ct": np.arange(6).reshape(1, 2, 3)})
        total, shared, pid = job.result()
    assert (total, shared, pid) == (15, False, os.getpid())


def _from_inbox(inbox):
    value = inbox.get()
    ct = value["ct"]
    shared = inbox.shared is not None and inbox.shared.offset(ct) is not None
    if shared:
        assert not ct.flags.writeable  # the parent's memory: the child must not write to it
    return int(ct.sum()), shared, os.getpid()


def test_an_array_put_in_shared_memory_after_the_fork_reaches_the_child_in_place():
    shared = SharedMemory(64 << 20)
    with Inbox(shared) as inbox, Background(_from_inbox, inbox) as job:
        ct = shared.empty((40, 256, 256), np.int16)  # made after the fork, as the CT is read
        ct[...] = np.arange(ct.size, dtype=np.int64).reshape(ct.shape) % 3000
        inbox.put({"ct": ct})
        total, in_place, pid = job.result()
    assert total == int(ct.sum()) and in_place and pid != os.getpid()


def test_an_array_outside_shared_memory_is_sent_whole():
    with Inbox(SharedMemory(1 << 20)) as inbox, Background(_from_inbox, inbox) as job:
        ct = np.arange(2 * 600 * 600, dtype=np.int32).reshape(2, 600, 600)  # 2.9 MB: over the 1 MB
        inbox.put({"ct": ct})
        total, in_place, _ = job.result()
    assert total == int(ct.sum()) and not in_place


def test_shared_memory_places_arrays_apart_and_copies_in_what_is_elsewhere():
    shared = SharedMemory(1 << 20)
    a, b = shared.empty((3, 5, 7), np.float32), shared.empty((10,), np.int16)
    assert shared.offset(a) == 0 and shared.offset(b) == 448  # 105 floats, rounded up to 64 bytes
    a[...], b[...] = 1.5, 7
    assert a.sum() == 157.5 and b.sum() == 70  # not overlapping
    outside = np.ones((4, 4), np.uint8)
    held = shared.holding(outside)
    assert shared.offset(outside) is None and shared.offset(held) is not None and np.array_equal(held, outside)
    assert shared.holding(held) is held
    full = shared.empty((2, 1 << 20), np.uint8)  # no room left: a private array
    assert shared.offset(full) is None and full.shape == (2, 1 << 20)


def test_shared_memory_is_no_larger_than_the_machine_or_an_address_space_limit(monkeypatch):
    import resource

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert shared_memory(1 << 20)._bytes.size == 1 << 20
    assert shared_memory(4 * ram)._bytes.size == ram
    monkeypatch.setattr(resource, "getrlimit", lambda what: (8 << 20, resource.RLIM_INFINITY))
    assert shared_memory(1 << 30)._bytes.size == 2 << 20  # a quarter of an 8 MB `ulimit -v`


def test_a_child_waiting_for_its_input_ends_with_its_parents_error():
    inbox = Inbox()
    job = Background(_from_inbox, inbox)
    child = job._proc
    with inbox, job:
        pass  # the parent failed reading the CT: the child, still waiting, is ended
    assert not child.is_alive()


def _masks():
    rng = np.random.default_rng(0)
    labels = np.zeros((60, 200, 200), dtype=np.uint8)  # 2.4 MB: crosses whole
    big = np.zeros((120, 200, 200), dtype=np.uint16)  # 9.6 MB: crosses as its box
    big[30:50, 10:40, 150:190] = rng.integers(0, 9, (20, 30, 40))
    mask = np.zeros((120, 200, 400), dtype=bool)
    mask[119, 199, 399] = mask[0, 0, 0] = True  # the box is the whole array
    view = np.zeros((120, 400, 400), dtype=bool)[:, ::2, ::2]  # not contiguous, and empty
    view[5, 6, 7] = True
    return {"labels": labels, "big": big, "mask": mask, "empty": np.zeros((100, 200, 300), bool),
            "view": view, "float": rng.random((40, 200, 200)).astype(np.float32), "same": (big, big)}


def test_large_masks_come_back_equal_from_their_box():
    with Background(_masks) as job:
        got = job.result()
    want = _masks()
    for key in ("labels", "big", "mask", "empty", "view", "float"):
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape, key
        assert np.array_equal(got[key], want[key]), key
    assert got["same"][0] is got["same"][1]  # one object still comes back as one
