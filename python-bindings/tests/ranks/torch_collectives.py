"""Every collective of the "strata" backend on one rank, checked against
closed-form results (Debian's 1.13 gloo lacks several of them). Spawned by
test_torch_backend.py; each check names itself in its assertion."""

import datetime

import torch
import torch.distributed as dist

import strata.torch  # noqa: F401 (registers "strata")


def check_reductions(rank, size):
    closed_sum = size * (size + 1) / 2
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.int64,
                  torch.int8, torch.uint8, torch.int16):
        t = torch.full((6,), rank + 1, dtype=dtype)
        dist.all_reduce(t)
        assert (t == closed_sum).all(), f"all_reduce SUM {dtype}: {t}"
    ops = {dist.ReduceOp.PRODUCT: 1.0 * torch.arange(1, size + 1).prod().item(), dist.ReduceOp.MAX: size,
           dist.ReduceOp.MIN: 1, dist.ReduceOp.AVG: closed_sum / size}
    for op, expected in ops.items():
        t = torch.full((3,), rank + 1.0)
        dist.all_reduce(t, op=op)
        assert torch.allclose(t, torch.tensor(float(expected))), f"all_reduce {op}: {t}"
    t = torch.full((3,), rank + 1.0)
    dist.all_reduce(t, op=dist._make_nccl_premul_sum(0.5))
    assert torch.allclose(t, torch.tensor(closed_sum * 0.5)), f"PREMUL_SUM {t}"
    flags = torch.tensor([rank == 0, True])
    dist.all_reduce(flags, op=dist.ReduceOp.BAND)
    assert flags.tolist() == [size == 1, True], f"BAND {flags}"
    z = torch.full((2,), complex(rank, 1))
    dist.all_reduce(z)
    assert torch.allclose(z, torch.tensor(complex(size * (size - 1) / 2, size))), f"complex {z}"
    strided = torch.ones(4, 4)[:, 1]  # not contiguous: staged and copied back
    dist.all_reduce(strided)
    assert (strided == size).all(), f"strided {strided}"
    parts = [torch.full((2,), float(rank)), torch.full((3,), 1.0)]
    dist.all_reduce_coalesced(parts)
    assert (parts[0] == size * (size - 1) / 2).all() and (parts[1] == size).all(), f"coalesced {parts}"
    t = torch.full((4,), rank + 1.0)
    dist.reduce(t, dst=size - 1)
    if rank == size - 1:
        assert (t == closed_sum).all(), f"reduce {t}"


def check_moves(rank, size):
    t = torch.arange(5) if rank == 1 else torch.zeros(5, dtype=torch.int64)
    dist.broadcast(t, src=1)
    assert t.tolist() == list(range(5)), f"broadcast {t}"
    outs = [torch.empty(2, 2) for _ in range(size)]
    dist.all_gather(outs, torch.full((2, 2), float(rank)))
    assert all((o == r).all() for r, o in enumerate(outs)), f"all_gather {outs}"
    whole = torch.empty(size * 3)
    dist._all_gather_base(whole, torch.full((3,), float(rank)))
    assert whole.tolist() == [float(r) for r in range(size) for _ in range(3)], f"_all_gather_base {whole}"
    lists = [[torch.empty(2), torch.empty(1, dtype=torch.float32)] for _ in range(size)]
    dist.all_gather_coalesced(lists, [torch.full((2,), float(rank)), torch.full((1,), rank + 0.5)])
    assert all(lists[r][0][1] == r and lists[r][1][0] == r + 0.5 for r in range(size)), f"coalesced {lists}"
    gathered = [torch.empty(2) for _ in range(size)] if rank == 0 else None
    dist.gather(torch.full((2,), float(rank)), gathered, dst=0)
    if rank == 0:
        assert [g[0].item() for g in gathered] == list(range(size)), f"gather {gathered}"
    piece = torch.empty(3)
    dist.scatter(piece, [torch.full((3,), float(r)) for r in range(size)] if rank == 0 else None, src=0)
    assert (piece == rank).all(), f"scatter {piece}"
    mine = torch.empty(2)
    dist.reduce_scatter(mine, [torch.full((2,), float(r + rank)) for r in range(size)])
    assert (mine == rank * size + size * (size - 1) / 2).all(), f"reduce_scatter {mine}"
    mine = torch.empty(2)
    dist._reduce_scatter_base(mine, torch.arange(size * 2, dtype=torch.float32))
    assert mine.tolist() == [size * (2.0 * rank), size * (2.0 * rank + 1)], f"_reduce_scatter_base {mine}"
    # The public names (torch >= 1.13) over the same backend calls.
    whole = torch.empty(size, 2)
    dist.all_gather_into_tensor(whole, torch.full((2,), float(rank)))
    assert whole[:, 0].tolist() == [float(r) for r in range(size)], f"all_gather_into_tensor {whole}"
    mine = torch.empty(3, dtype=torch.int64)
    dist.reduce_scatter_tensor(mine, torch.ones(size * 3, dtype=torch.int64), op=dist.ReduceOp.MAX)
    assert mine.tolist() == [1, 1, 1], f"reduce_scatter_tensor {mine}"
    # Object collectives (pickled over broadcast/all_gather of byte tensors).
    objects = [None] * size
    dist.all_gather_object(objects, {"rank": rank})
    assert [o["rank"] for o in objects] == list(range(size)), f"all_gather_object {objects}"
    shared = [f"from {rank}"] if rank == 0 else [None]
    dist.broadcast_object_list(shared, src=0)
    assert shared == ["from 0"], f"broadcast_object_list {shared}"


def check_all_to_all(rank, size):
    out = torch.empty(size)
    dist.all_to_all_single(out, torch.arange(size, dtype=torch.float32) + 10 * rank)
    assert out.tolist() == [10.0 * r + rank for r in range(size)], f"all_to_all_single {out}"
    # Uneven: rank r sends r+1 rows to every peer, so receives p+1 rows from peer p.
    send = torch.full(((rank + 1) * size, 2), float(rank))
    recv = torch.empty((sum(p + 1 for p in range(size)), 2))
    dist.all_to_all_single(recv, send, [p + 1 for p in range(size)], [rank + 1] * size)
    expected = [float(p) for p in range(size) for _ in range(p + 1)]
    assert recv[:, 0].tolist() == expected, f"uneven all_to_all {recv}"
    outs = [torch.empty(1, dtype=torch.int64) for _ in range(size)]
    dist.all_to_all(outs, [torch.tensor([rank * 100 + p]) for p in range(size)])
    assert [o.item() for o in outs] == [p * 100 + rank for p in range(size)], f"all_to_all {outs}"


def check_point_to_point_and_groups(rank, size):
    if rank == 0:
        dist.send(torch.tensor([42.0]), dst=1)
    elif rank == 1:
        got = torch.zeros(1)
        dist.recv(got, src=0)
        assert got.item() == 42.0, f"send/recv {got}"
    right, left = (rank + 1) % size, (rank - 1) % size
    got = torch.empty(1)
    requests = dist.batch_isend_irecv([dist.P2POp(dist.isend, torch.tensor([float(rank)]), right),
                                       dist.P2POp(dist.irecv, got, left)])
    for request in requests:
        request.wait()
    assert got.item() == left, f"batch_isend_irecv {got}"
    evens = dist.new_group([r for r in range(size) if r % 2 == 0], timeout=datetime.timedelta(seconds=77))
    if rank % 2 == 0:
        t = torch.ones(1)
        dist.all_reduce(t, group=evens)
        assert t.item() == (size + 1) // 2, f"new_group {t}"
        assert abs(evens.comm_timeout - 77) < 1e-3, f"group timeout {evens.comm_timeout}"
    work = dist.all_reduce(torch.ones(3), async_op=True)
    future = work.get_future()
    assert work.wait(datetime.timedelta(seconds=60))
    assert (future.value()[0] == size).all(), f"future {future.value()}"
    dist.barrier()
    # torch 1.13's dist.monitored_barrier admits gloo only; the group's own method is the backend's.
    dist.distributed_c10d._get_default_group().monitored_barrier(datetime.timedelta(seconds=60))


def check_errors(rank, size):
    try:
        dist.broadcast(torch.ones(2), src=size + 3)
    except (RuntimeError, ValueError) as error:
        assert "root" in str(error) or "rank" in str(error), f"bad src message: {error}"
    else:
        raise AssertionError("broadcast from a rank outside the group did not raise")
    try:
        dist.all_reduce(torch.ones(2, dtype=torch.int32), op=dist.ReduceOp.BXOR)
    except RuntimeError as error:
        assert f"rank {rank}" in str(error) and "allreduce" in str(error), f"BXOR message: {error}"
    else:
        raise AssertionError("BXOR on int32 did not raise")


def main(rank, size, init_method, use_store=False):
    timeout = datetime.timedelta(seconds=60)
    if use_store:
        host, port = init_method.split(":")
        store = dist.TCPStore(host, int(port), size, rank == 0, timeout)
        dist.init_process_group("strata", store=store, rank=rank, world_size=size, timeout=timeout)
    else:
        dist.init_process_group("strata", init_method=init_method, rank=rank, world_size=size, timeout=timeout)
    assert dist.get_backend() == "strata"
    check_reductions(rank, size)
    check_moves(rank, size)
    check_all_to_all(rank, size)
    check_point_to_point_and_groups(rank, size)
    check_errors(rank, size)
    dist.destroy_process_group()
