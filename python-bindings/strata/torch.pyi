from datetime import timedelta
from typing import Any

import torch.distributed as dist

BACKEND: str

class ProcessGroupStrata(dist.ProcessGroup):
    def __init__(self, store: Any, rank: int, size: int, timeout: timedelta) -> None: ...
    @property
    def comm_timeout(self) -> float: ...
    def topology_sites(self) -> int: ...
