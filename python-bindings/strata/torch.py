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

__all__ = ["BACKEND", "ProcessGroupStrata"]
