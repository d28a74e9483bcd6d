"""DistributedDataParallel over "strata" against gloo on one rank: the same
model from the same seed, trained on both, must end within fp32 tolerance of
gloo's parameters, and every replica must be bitwise identical."""

import datetime

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import strata.torch  # noqa: F401 (registers "strata")

STEPS = 8


def train(process_group, rank):
    torch.manual_seed(1234)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    ddp = DDP(model, process_group=process_group, bucket_cap_mb=0.01)  # several buckets
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    data = torch.Generator().manual_seed(99 + rank)  # each rank its own batches
    for _ in range(STEPS):
        x = torch.randn(16, 32, generator=data)
        y = torch.randn(16, 4, generator=data)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(ddp(x), y).backward()
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def main(rank, size, init_method):
    timeout = datetime.timedelta(seconds=60)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=size, timeout=timeout)
    strata_group = dist.new_group(backend="strata", timeout=timeout)
    with_gloo = train(dist.group.WORLD, rank)
    with_strata = train(strata_group, rank)
    assert torch.allclose(with_strata, with_gloo, rtol=1e-5, atol=1e-6), \
        f"rank {rank}: max difference {(with_strata - with_gloo).abs().max().item()}"
    replicas = [torch.empty_like(with_strata) for _ in range(size)]
    dist.all_gather(replicas, with_strata)  # over gloo: the checker is not the checked
    for other, replica in enumerate(replicas):
        assert torch.equal(replica, with_strata), f"replica {other} differs from rank {rank}'s"
    dist.destroy_process_group()
