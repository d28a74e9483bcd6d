"""Bad input raises a clear strata error naming the argument and the rank,
never a crash."""

import threading

import numpy as np
import pytest

import strata


@pytest.fixture
def solo():
    comm = strata.Communicator.local(1)[0]
    yield comm
    comm.destroy()


def test_non_contiguous(solo):
    with pytest.raises(strata.InvalidArgumentError, match="send is not C-contiguous") as info:
        solo.all_reduce(np.ones(8)[::2])
    assert info.value.rank == 0 and info.value.operation == "all_reduce"
    assert isinstance(info.value, ValueError)


def test_read_only_in_place(solo):
    frozen = np.ones(4)
    frozen.flags.writeable = False
    with pytest.raises(strata.InvalidArgumentError, match="read-only"):
        solo.all_reduce(frozen)
    with pytest.raises(strata.InvalidArgumentError, match="read-only"):
        solo.broadcast(bytes(4))


def test_mismatched_sizes_and_dtypes(solo):
    with pytest.raises(strata.InvalidArgumentError, match="send holds 32 bytes but recv 24"):
        solo.all_reduce(np.ones(4), np.ones(3))
    with pytest.raises(strata.InvalidArgumentError, match="send is float64 but recv is float32"):
        solo.all_reduce(np.ones(4), np.ones(8, np.float32))
    with pytest.raises(strata.InvalidArgumentError, match="recv holds"):
        solo.all_gather(np.ones(4), np.ones(3))


def test_wrong_dtype_arguments(solo):
    with pytest.raises(strata.InvalidArgumentError, match="needs 2-byte elements"):
        solo.all_reduce(np.ones(4, np.float32), dtype="bfloat16")
    with pytest.raises(strata.InvalidArgumentError, match="cannot be reduced"):
        solo.all_reduce(np.array([b"ab"]))
    with pytest.raises(strata.InvalidArgumentError, match="not defined element-wise for complex"):
        solo.all_reduce(np.ones(2, np.complex64), op="max")
    with pytest.raises(strata.InvalidArgumentError, match="op='bogus'"):
        solo.all_reduce(np.ones(2), op="bogus")
    with pytest.raises(strata.InvalidArgumentError, match="needs scalar"):
        solo.all_reduce(np.ones(2), op="premul_sum")
    with pytest.raises(strata.InvalidArgumentError, match="Python objects"):
        solo.broadcast(np.array([object()]))


def test_bad_root_and_peer_name_the_rank(solo):
    with pytest.raises(strata.InvalidArgumentError, match=r"root 3 is outside \[0, 1\)") as info:
        solo.broadcast(np.ones(2), root=3)
    assert info.value.rank == 0
    with pytest.raises(strata.InvalidArgumentError, match="peer 5 is outside"):
        solo.send(np.ones(2), 5)


def test_not_a_buffer(solo):
    with pytest.raises(strata.InvalidArgumentError, match="neither the buffer protocol nor DLPack"):
        solo.all_reduce([1.0, 2.0])
    with pytest.raises(strata.InvalidArgumentError, match="send is None"):
        solo.all_reduce(None)


def test_destroyed_communicator():
    comm = strata.Communicator.local(1)[0]
    comm.destroy()
    with pytest.raises(strata.InvalidUsageError, match="destroyed"):
        comm.all_reduce(np.ones(2))
    with pytest.raises(strata.InvalidUsageError, match="destroyed"):
        comm.size


def test_bad_unique_id_and_ranks():
    with pytest.raises(strata.InvalidArgumentError, match="unique_id has 3 bytes"):
        strata.Communicator(2, 0, b"abc")
    with pytest.raises(strata.InvalidArgumentError, match=r"rank 2 is outside \[0, 2\)"):
        strata.Communicator(2, 2, bytes(128))
    with pytest.raises(strata.InvalidArgumentError, match="not a Strata unique id"):
        strata.Communicator(1, 0, bytes(128))
    with pytest.raises(strata.InvalidArgumentError, match="must be the bytes"):
        strata.Communicator(1, 0, "text")


def test_async_inside_a_group_is_refused(solo):
    with pytest.raises(strata.InvalidUsageError, match="inside a group"):
        with strata.group():
            solo.all_reduce(np.ones(2), async_op=True)
    assert strata._strata.group_depth() == 0
    np.testing.assert_array_equal(solo.all_reduce(np.ones(2)), 1)  # the dropped group left nothing behind


def test_abort_wakes_a_waiting_rank_with_aborted_error():
    comms = strata.Communicator.local(2)
    caught = []

    def waiter():
        try:
            comms[0].all_reduce(np.ones(4))  # rank 1 never joins
        except strata.Error as error:
            caught.append(error)
    thread = threading.Thread(target=waiter)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive(), "the all_reduce returned without its peer"
    comms[0].abort()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(caught[0], strata.AbortedError) and caught[0].rank == 0
    for comm in comms:
        comm.destroy()


def test_handle_wait_timeout_names_the_operation():
    comms = strata.Communicator.local(2)
    handle = comms[0].all_reduce_async(np.ones(4))
    with pytest.raises(strata.TimeoutError, match="all_reduce on rank 0") as info:
        handle.wait(timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    assert not handle.done()
    comms[0].abort()
    with pytest.raises(strata.AbortedError):
        handle.wait(timeout=10)
    assert isinstance(handle.exception(), strata.AbortedError)
    for comm in comms:
        comm.destroy()


def test_survivors_shrink_past_a_silent_rank_and_run_exactly():
    """Rank 2 stops answering: the others' all_reduce does not finish, they
    shrink it away (revoking the parent, which fails the pending call) and
    the child runs exact sums in the old order."""
    comms = strata.Communicator.local(3)
    results = [None] * 3

    def survivor(comm):
        pending = comm.all_reduce_async(np.ones(4))
        with pytest.raises(strata.TimeoutError):
            pending.wait(0.3)
        child = comm.shrink([2], abort_pending=True, timeout=5)
        assert isinstance(pending.exception(), strata.AbortedError)
        assert comm.revoked and (child.rank, child.size) == (comm.rank, 2)
        sums = [child.all_reduce(np.array([comm.rank * k + k], dtype=np.int64))[0] for k in range(1, 201)]
        results[comm.rank] = sums
        child.destroy()

    threads = [threading.Thread(target=survivor, args=(comms[r],)) for r in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a survivor hung"
    expected = [(0 + 1) * k + 2 * k for k in range(1, 201)]
    assert results[0] == expected and results[1] == expected
    with pytest.raises(strata.InvalidUsageError, match="revoked"):
        comms[0].all_reduce(np.ones(1))
    for comm in comms:
        comm.destroy()


def test_shrink_names_a_bad_exclude_list(solo):
    with pytest.raises(strata.InvalidArgumentError, match="rank 0.*= 3 is not in 0..0|= 3 is not in 0..0.*rank 0"):
        solo.shrink([3])
    with pytest.raises(strata.InvalidUsageError, match="its own exclude list"):
        solo.shrink([0])
