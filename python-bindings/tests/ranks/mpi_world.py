"""Run in every rank under mpirun (mpirun -np 4 python3 -m pytest ...):
a communicator from mpi4py, and collectives between processes."""

import numpy as np
import pytest

import strata

MPI = pytest.importorskip("mpi4py.MPI")


@pytest.fixture(scope="module")
def comm():
    comm = strata.Communicator.from_mpi(MPI.COMM_WORLD, name="pytest-mpi")
    yield comm
    comm.destroy()


def test_ranks_match_mpi(comm):
    assert (comm.rank, comm.size) == (MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size())


def test_all_reduce_matches_mpi(comm):
    data = np.random.default_rng(comm.rank).standard_normal(10000)
    expected = np.empty_like(data)
    MPI.COMM_WORLD.Allreduce(data, expected)
    np.testing.assert_allclose(comm.all_reduce(data.copy()), expected, rtol=1e-12)


def test_large_int_all_reduce_and_all_gather(comm):
    result = comm.all_reduce(np.full(1 << 20, comm.rank + 1, np.int64))
    assert (result == comm.size * (comm.size + 1) // 2).all()
    gathered = comm.all_gather(np.full(3, comm.rank, np.int32))
    np.testing.assert_array_equal(gathered[:, 0], np.arange(comm.size))


def test_async_overlaps_and_orders(comm):
    handles = [comm.all_reduce_async(np.full(1 << 16, i, np.float32)) for i in range(4)]
    for i, handle in enumerate(handles):
        assert (handle.wait(timeout=60) == i * comm.size).all()


def test_split_by_parity(comm):
    child = comm.split(comm.rank % 2)
    total = child.all_reduce(np.array([comm.rank]))
    assert total[0] == sum(r for r in range(comm.size) if r % 2 == comm.rank % 2)
    child.destroy()


def test_send_recv_ring(comm):
    into = np.empty(5)
    with strata.group():
        comm.send(np.full(5, float(comm.rank)), (comm.rank + 1) % comm.size)
        comm.recv(into, (comm.rank - 1) % comm.size)
    assert (into == (comm.rank - 1) % comm.size).all()


def test_all_to_all_and_reduce_scatter(comm):
    n = comm.size
    out = comm.all_to_all(np.arange(n, dtype=np.int64) + 100 * comm.rank)
    np.testing.assert_array_equal(out, np.arange(n) * 100 + comm.rank)
    mine = comm.reduce_scatter(np.ones((n, 8), np.float32))
    assert (mine == n).all()
