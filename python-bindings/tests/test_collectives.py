"""Every collective on NumPy arrays, in place and out of place, across the
dtypes NumPy has, on 3 in-process ranks (an odd count catches off-by-ones)."""

import numpy as np
import pytest

import strata

N = 3
INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]


def contribution(rank, dtype, count=7):
    return (np.arange(count) % 5 + rank + 1).astype(dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES)
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
def test_all_reduce_every_dtype_and_op(ranks, dtype, op):
    expected = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[op](
        np.stack([contribution(r, dtype) for r in range(N)]), axis=0).astype(dtype)
    results = ranks(N, lambda comm: comm.all_reduce(contribution(comm.rank, dtype), op=op))
    for result in results:
        assert result.dtype == dtype
        np.testing.assert_array_equal(result, expected)


def test_all_reduce_out_of_place_leaves_send(ranks):
    def body(comm):
        send = contribution(comm.rank, np.float32)
        recv = np.empty_like(send)
        comm.all_reduce(send, recv)
        return send, recv
    for rank, (send, recv) in enumerate(ranks(N, body)):
        np.testing.assert_array_equal(send, contribution(rank, np.float32))
        np.testing.assert_array_equal(recv, sum(contribution(r, np.float32) for r in range(N)))


def test_avg_and_premul_sum(ranks):
    def body(comm):
        avg = comm.all_reduce(np.full(4, comm.rank, np.float64), op="avg")
        premul = comm.all_reduce(np.full(4, comm.rank + 1, np.float32), op="premul_sum", scalar=0.5)
        integer_avg = comm.all_reduce(np.full(2, comm.rank * 2, np.int32), op="avg")
        return avg, premul, integer_avg
    for avg, premul, integer_avg in ranks(N, body):
        np.testing.assert_allclose(avg, 1.0)
        np.testing.assert_allclose(premul, 0.5 * 6)
        np.testing.assert_array_equal(integer_avg, 2)


def test_bool_as_logical_or_and(ranks):
    def body(comm):
        flags = np.zeros(N, bool)
        flags[comm.rank] = True
        return comm.all_reduce(flags.copy(), op="sum"), comm.all_reduce(flags.copy(), op="prod")
    for any_, all_ in ranks(N, body):
        assert any_.all() and not all_.any()


def test_int16_sum_wraps_like_int16(ranks):
    results = ranks(N, lambda comm: comm.all_reduce(np.full(3, 20000, np.int16)))
    for result in results:
        np.testing.assert_array_equal(result, np.full(3, 20000 * N, np.int64).astype(np.int16))


def test_complex_sum(ranks):
    results = ranks(N, lambda comm: comm.all_reduce(np.full(3, (comm.rank + 1) * (1 + 2j), np.complex128)))
    for result in results:
        np.testing.assert_array_equal(result, np.full(3, 6 * (1 + 2j)))


def test_bfloat16_by_explicit_dtype(ranks):
    one = np.array([0x3F80] * 4, np.uint16)  # 1.0 in bfloat16
    results = ranks(N, lambda comm: comm.all_reduce(one.copy(), dtype="bfloat16"))
    three = 0x4040  # 3.0 in bfloat16
    for result in results:
        np.testing.assert_array_equal(result, three)


def test_fp8_e4m3_by_explicit_dtype(ranks):
    one = np.array([0x38] * 4, np.uint8)  # 1.0 in e4m3
    results = ranks(N, lambda comm: comm.all_reduce(one.copy(), dtype="float8_e4m3fn", op="max"))
    for result in results:
        np.testing.assert_array_equal(result, 0x38)


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.complex64, np.bool_, "S3"])
def test_broadcast_moves_any_dtype(ranks, dtype):
    source = np.array([b"abc", b"de", b"f"] * 2 if dtype == "S3" else np.arange(6) % 2, dtype=dtype)
    def body(comm):
        buffer = source.copy() if comm.rank == 1 else np.zeros_like(source)
        return comm.broadcast(buffer, root=1)
    for result in ranks(N, body):
        np.testing.assert_array_equal(result, source)


def test_reduce_to_root(ranks):
    def body(comm):
        return comm.reduce(np.full(5, comm.rank + 1.0), root=2)
    results = ranks(N, body)
    assert results[0] is None and results[1] is None
    np.testing.assert_array_equal(results[2], 6.0)


def test_all_gather_out_of_place_and_in_place(ranks):
    def body(comm):
        gathered = comm.all_gather(np.full((2, 2), comm.rank, np.int64))
        whole = np.zeros((N, 3), np.float32)
        whole[comm.rank] = comm.rank + 10
        comm.all_gather(whole[comm.rank], whole)  # send is recv's own block: in place
        return gathered, whole
    for gathered, whole in ranks(N, body):
        assert gathered.shape == (N, 2, 2)
        np.testing.assert_array_equal(gathered[:, 0, 0], np.arange(N))
        np.testing.assert_array_equal(whole[:, 0], np.arange(N) + 10)


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8])
def test_reduce_scatter(ranks, dtype):
    def body(comm):
        return comm.reduce_scatter(np.arange(N * 4).reshape(N, 4).astype(dtype))
    for rank, result in enumerate(ranks(N, body)):
        assert result.shape == (1, 4)
        np.testing.assert_array_equal(result[0], (np.arange(4) + rank * 4) * N)


def test_all_to_all(ranks):
    def body(comm):
        send = np.array([comm.rank * 10 + peer for peer in range(N)], np.int32)
        return comm.all_to_all(send)
    for rank, result in enumerate(ranks(N, body)):
        np.testing.assert_array_equal(result, [peer * 10 + rank for peer in range(N)])


def test_gather_and_scatter(ranks):
    def body(comm):
        gathered = comm.gather(np.full(2, comm.rank, np.float64), root=0)
        send = np.arange(N * 2, dtype=np.float64).reshape(N, 2) if comm.rank == 0 else None
        part = comm.scatter(send, np.empty(2), root=0)
        return gathered, part
    results = ranks(N, body)
    np.testing.assert_array_equal(results[0][0][:, 0], np.arange(N))
    assert results[1][0] is None
    for rank, (_, part) in enumerate(results):
        np.testing.assert_array_equal(part, [2 * rank, 2 * rank + 1])


def test_send_recv_ring_in_a_group(ranks):
    def body(comm):
        out = np.full(4, comm.rank, np.float32)
        into = np.empty(4, np.float32)
        with strata.group():
            comm.send(out, (comm.rank + 1) % comm.size)
            comm.recv(into, (comm.rank - 1) % comm.size)
        return into
    for rank, into in enumerate(ranks(N, body)):
        np.testing.assert_array_equal(into, (rank - 1) % N)


def test_group_copies_back_widened_results_at_its_end(ranks):
    def body(comm):
        a = np.full(3, 2, np.int16)
        with strata.group():
            comm.all_reduce(a)
        return a
    for result in ranks(N, body):
        np.testing.assert_array_equal(result, 2 * N)


def test_async_handles_complete_in_order(ranks):
    def body(comm):
        handles = [comm.all_reduce_async(np.full(1000, i, np.float32)) for i in range(5)]
        sync = comm.all_reduce(np.ones(3))  # ordered after the async ones
        results = [h.wait(timeout=30) for h in handles]
        assert all(h.done() for h in handles)
        return results, sync
    for results, sync in ranks(N, body):
        for i, result in enumerate(results):
            np.testing.assert_array_equal(result, i * N)
        np.testing.assert_array_equal(sync, N)


def test_barrier_and_split(ranks):
    def body(comm):
        comm.barrier()
        child = comm.split(comm.rank % 2, key=-comm.rank)
        total = child.all_reduce(np.array([comm.rank], np.int64))
        out = (child.size, child.rank, int(total[0]))
        child.destroy()
        none = comm.split(-1)
        return out, none
    results = ranks(N, body)
    assert results[0][0] == (2, 1, 2) and results[2][0] == (2, 0, 2) and results[1][0] == (1, 0, 1)
    assert all(none is None for _, none in results)


class DLPackOnly:
    """An object that speaks DLPack and nothing else."""

    def __init__(self, tensor):
        self._tensor = tensor

    def __dlpack__(self, stream=None):
        return self._tensor.__dlpack__()

    def __dlpack_device__(self):
        return self._tensor.__dlpack_device__()


def test_buffer_protocol_and_dlpack_objects(ranks):
    import array
    torch = pytest.importorskip("torch")

    def body(comm):
        raw = bytearray([comm.rank + 1] * 4)
        comm.all_reduce(raw, op="max")
        floats = array.array("f", [comm.rank] * 3)
        comm.all_reduce(floats)
        tensor = torch.full((3,), comm.rank + 1.0)
        comm.all_reduce(tensor)
        owner = torch.full((2,), float(comm.rank))
        comm.all_reduce(DLPackOnly(owner))  # NumPy imports it read-only; Strata writes it anyway
        return bytes(raw), list(floats), tensor.tolist(), owner.tolist()
    for raw, floats, tensor, packed in ranks(N, body):
        assert raw == bytes([N] * 4)
        assert floats == [3.0] * 3 and tensor == [6.0] * 3 and packed == [3.0, 3.0]


def test_context_manager_destroys():
    comms = strata.Communicator.local(1)
    with comms[0] as comm:
        np.testing.assert_array_equal(comm.all_reduce(np.ones(2)), 1)
    assert comm.closed
    comm.destroy()  # idempotent
