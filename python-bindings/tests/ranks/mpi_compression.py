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
