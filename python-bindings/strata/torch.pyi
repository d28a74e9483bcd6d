from datetime import timedelta
from typing import Any

import torch.distributed as dist

BACKEND: str

class CompressionHookState:
    comm: Any
    error_feedback: bool
    feedback: dict[Any, Any]
    def __init__(self, comm: Any, *, error_feedback: bool = ...) -> None: ...
    def feedback_for(self, bucket: Any) -> Any: ...

def compressed_allreduce_hook(state: CompressionHookState, bucket: Any) -> Any: ...

class ProcessGroupStrata(dist.ProcessGroup):
    def __init__(self, store: Any, rank: int, size: int, timeout: timedelta) -> None: ...
    @property
    def comm_timeout(self) -> float: ...
    def topology_sites(self) -> int: ...
