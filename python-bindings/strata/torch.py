"""`import strata.torch` registers the torch.distributed backend "strata":

    import torch.distributed as dist, strata.torch
    dist.init_process_group("strata")            # env:// under torchrun, or init_method=/store=

Every collective runs on a Strata communicator (hierarchical across sites,
shared memory within a host) from a C++ process group; Work objects complete
asynchronously and expose get_future(), so DistributedDataParallel and its
comm hooks work unchanged. new_group() makes a new Strata communicator, and
the process group's timeout is Strata's timeout for it.
"""

from __future__ import annotations

from datetime import timedelta

import torch.distributed as dist

from . import _torch_backend
from ._torch_backend import ProcessGroupStrata

BACKEND = "strata"


class CompressionHookState:
    """State of compressed_allreduce_hook: a strata.Communicator (whose
    `compression` sets the inter-site wire format, docs/compression.md) and
    one strata.ErrorFeedback per DDP bucket, created on first use."""

    def __init__(self, comm, *, error_feedback: bool = True):
        self.comm = comm
        self.error_feedback = error_feedback
        self.feedback: dict = {}

    def feedback_for(self, bucket):
        if not self.error_feedback:
            return None
        from . import ErrorFeedback
        # DDP may rebuild its buckets after the first step: a new shape, a new state.
        key = (bucket.index(), bucket.buffer().numel())
        return self.feedback.setdefault(key, ErrorFeedback())


def compressed_allreduce_hook(state: CompressionHookState, bucket):  # DDP rejects a string annotation
    """A DDP comm hook: averages each gradient bucket over state.comm with the
    bucket's own error-feedback state, so that a lossy inter-site format
    (int8, int4) does not bias training. CPU float32 buckets; register with
    ddp.register_comm_hook(CompressionHookState(comm), compressed_allreduce_hook)."""
    import torch
    tensor = bucket.buffer()
    if tensor.device.type != "cpu" or tensor.dtype != torch.float32:
        raise TypeError(f"compressed_allreduce_hook: bucket is {tensor.dtype} on {tensor.device}; "
                        "CPU float32 only")
    state.comm.all_reduce(tensor.numpy(), op="avg", error_feedback=state.feedback_for(bucket))
    future = torch.futures.Future()
    future.set_result(tensor)
    return future


def _create(store, rank: int, size: int, timeout: timedelta) -> ProcessGroupStrata:
    return ProcessGroupStrata(store, rank, size, timeout)


def _register() -> None:
    if getattr(dist.Backend, BACKEND.upper(), None) == BACKEND:
        return  # already registered (the module was reloaded)
    if _torch_backend.torch_version_major >= 2:
        dist.Backend.register_backend(BACKEND, _create, devices=["cpu", "cuda"])
    else:
        dist.Backend.register_backend(BACKEND, _create)


_register()

__all__ = ["BACKEND", "CompressionHookState", "ProcessGroupStrata", "compressed_allreduce_hook"]
