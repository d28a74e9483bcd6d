"""Compression through the Python module under mpirun, four ranks in two
fake sites (tests/mpi/interleaved_sites.sh) with every link counted as slow
and a 4 KiB threshold: a data-parallel NumPy training loop reaches the exact
run's final loss with int8, bf16 and int4 plus error feedback, while int4
without feedback (the negative control) does not."""

import numpy as np
import pytest
from mpi4py import MPI

import strata

STEPS = 400
FEATURES = 2048  # 8 KiB of float32 gradients


@pytest.fixture(scope="module")
def world():
    comm = strata.Communicator.from_mpi(name="world")
    yield comm
    comm.destroy()


def problem(rank):
    """Least squares whose odd features are 20x smaller: their gradients sit far
    below each block's largest, where a biased quantizer rounds them to zero."""
    rng = np.random.default_rng(7)
    truth = rng.standard_normal(FEATURES).astype(np.float32)
    scales = np.where(np.arange(FEATURES) % 2 == 0, 1.0, 0.05).astype(np.float32)
    local = np.random.default_rng(100 + rank)
    x = (local.standard_normal((512, FEATURES)) * scales).astype(np.float32)
    y = x @ truth + 0.01 * local.standard_normal(512).astype(np.float32)
    return x, y


def train(comm, x, y, feedback):
    w = np.zeros(FEATURES, np.float32)
    for _ in range(STEPS):
        grad = (x.T @ (x @ w - y) / len(y)).astype(np.float32)
        comm.all_reduce(grad, op="avg", error_feedback=feedback)
        w -= 0.5 * grad
    local = float(np.mean((x @ w - y) ** 2) / 2)
    return MPI.COMM_WORLD.allreduce(local) / MPI.COMM_WORLD.Get_size()


@pytest.fixture(scope="module")
def losses(world):
    x, y = problem(world.rank)
    out = {}
    for fmt, feedback in [("none", False), ("int8", False), ("bf16", False), ("int4", True), ("int4", False)]:
        comm = world.split(0, compression=fmt, name=fmt)
        out[(fmt, feedback)] = train(comm, x, y, strata.ErrorFeedback() if feedback else None)
        comm.destroy()
    if world.rank == 0:
        print("final losses:", {f"{f}{'+ef' if e else ''}": round(v, 6) for (f, e), v in out.items()})
    return out


def test_compression_is_reported(world):
    child = world.split(0, compression="int8")
    assert child.compression.startswith("int8")
    child.destroy()


@pytest.mark.parametrize("fmt,feedback,bound", [("int8", False, 0.01), ("bf16", False, 0.01), ("int4", True, 0.02)])
def test_training_reaches_the_exact_loss(losses, fmt, feedback, bound):
    exact = losses[("none", False)]
    assert abs(losses[(fmt, feedback)] - exact) <= bound * exact, losses


def test_int4_without_feedback_does_not(losses):
    exact = losses[("none", False)]
    assert abs(losses[("int4", False)] - exact) > 0.02 * exact, losses


def test_error_feedback_state_is_checked(world):
    comm = world.split(0, compression="int4")
    state = strata.ErrorFeedback()
    comm.all_reduce(np.ones(4096, np.float32), error_feedback=state)
    assert state.count == 4096
    with pytest.raises(strata.InvalidArgumentError, match="error_feedback"):
        comm.all_reduce(np.ones(8192, np.float32), error_feedback=state)
    with pytest.raises(strata.InvalidArgumentError, match="error_feedback"):
        comm.all_reduce(np.ones(8, np.float32), error_feedback="not a state")
    comm.destroy()


def test_disagreeing_ranks_fail_at_creation(world):
    with pytest.raises(strata.InvalidArgumentError, match="disagree"):
        world.split(0, compression="bf16" if world.rank == 1 else "int8")


def ddp_loss(world, fmt, error_feedback):
    """A small model under DDP whose gradients go through the Strata hook."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    import strata.torch as st
    if not dist.is_initialized():
        dist.init_process_group("strata", init_method="file:///tmp/strata-compression-ddp-" +
                                str(MPI.COMM_WORLD.bcast(np.random.randint(1 << 30), root=0)),
                                rank=world.rank, world_size=world.size)
    comm = world.split(0, compression=fmt, name="ddp-" + fmt)
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Tanh(), torch.nn.Linear(256, 1))
    ddp = DDP(model, bucket_cap_mb=0.05)
    ddp.register_comm_hook(st.CompressionHookState(comm, error_feedback=error_feedback), st.compressed_allreduce_hook)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05)
    data = torch.Generator().manual_seed(11 + world.rank)
    teacher = torch.Generator().manual_seed(3)
    w_true = torch.randn(64, 1, generator=teacher)
    for _ in range(150):
        x = torch.randn(64, 64, generator=data)
        y = torch.tanh(x @ w_true)
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        loss.backward()
        optimizer.step()
    comm.destroy()
    return MPI.COMM_WORLD.allreduce(float(loss)) / MPI.COMM_WORLD.Get_size()


def test_ddp_hook_with_int8_and_int4_feedback_matches_exact(world):
    pytest.importorskip("torch")
    exact = ddp_loss(world, "none", False)
    int8 = ddp_loss(world, "int8", True)
    int4 = ddp_loss(world, "int4", True)
    if world.rank == 0:
        print(f"DDP final losses: exact {exact:.6f}, int8+ef {int8:.6f}, int4+ef {int4:.6f}")
    assert abs(int8 - exact) <= 0.01 * exact
    assert abs(int4 - exact) <= 0.02 * exact
