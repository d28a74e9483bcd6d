#!/usr/bin/python3
"""torch.distributed benchmark: the same job on the "gloo" or "strata" backend.

One process per rank (CPU tensors). It measures
  * per-call overhead: the median time of a 4-byte dist.all_reduce;
  * dist.all_reduce (float32, SUM, in place) for every --sizes entry: median
    time and bus bandwidth busbw = 2*(n-1)/n * bytes / time, every result
    checked against the value it must have;
  * DDP: the median step time (forward, backward with the gradient
    all-reduces, SGD step) of an MLP of --layers x --hidden (the default is
    about 16.8M parameters, 67 MB of gradients, so several buckets).
A sample's time is the slowest rank's (all_reduce MAX of the per-rank times);
a barrier before each timed all_reduce keeps the previous check's skew out.
Rank 0 prints a table and writes --json.

    torch_bench.py --backend gloo|strata [--init-method URL] [--sizes 64K,1M]
Rank and world size come from RANK/WORLD_SIZE, else from Open MPI
(OMPI_COMM_WORLD_RANK/SIZE) so it can run under mpirun or strata-sites run;
env:// also needs MASTER_ADDR and MASTER_PORT. Exit 1 on a wrong result.
Needs of the backend: see the report in scripts/bench-torch.sh's header.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist

UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text):
    """'64K' -> 65536 bytes (binary units, a plain number is bytes)."""
    text = text.strip().upper().rstrip("B").rstrip("I")
    unit = text[-1] if text and text[-1] in UNITS else ""
    value = int(float(text[:len(text) - len(unit)]) * UNITS[unit])
    if value < 4 or value % 4:
        raise argparse.ArgumentTypeError(f"size {text}: a positive multiple of 4 bytes")
    return value


def human(nbytes):
    for unit in ("G", "M", "K"):
        if nbytes >= UNITS[unit] and nbytes % UNITS[unit] == 0:
            return f"{nbytes // UNITS[unit]}{unit}"
    return str(nbytes)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("gloo", "strata"), required=True)
    p.add_argument("--init-method", default="env://",
                   help="env:// (default) or tcp://HOST:PORT")
    p.add_argument("--sizes", default="64K,1M,16M,64M",
                   type=lambda s: [parse_size(x) for x in s.split(",") if x],
                   help="all_reduce sizes in bytes of float32 (K, M, G = 2^10..)")
    p.add_argument("--iters", type=int, default=10, help="timed all_reduces per size")
    p.add_argument("--warmup", type=int, default=2, help="untimed all_reduces per size")
    p.add_argument("--latency-iters", type=int, default=200,
                   help="timed 4-byte all_reduces (per-call overhead)")
    p.add_argument("--steps", type=int, default=10, help="timed DDP steps (0: no DDP)")
    p.add_argument("--ddp-warmup", type=int, default=2, help="untimed DDP steps")
    p.add_argument("--hidden", type=int, default=2048, help="MLP width")
    p.add_argument("--layers", type=int, default=4, help="MLP hidden x hidden layers")
    p.add_argument("--batch", type=int, default=32, help="DDP batch per rank")
    p.add_argument("--bucket-cap-mb", type=float, default=25, help="DDP bucket size")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads per rank (ranks often share cores)")
    p.add_argument("--timeout", type=float, default=600, help="process group timeout, s")
    p.add_argument("--json", help="rank 0 writes the results here")
    return p.parse_args(argv)


def env_int(*names):
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    sys.exit(f"torch_bench: none of {', '.join(names)} is set")


def slowest(samples_us):
    """Element-wise max over ranks of this rank's list of times (us)."""
    t = torch.tensor(samples_us, dtype=torch.float32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def total_errors(count):
    """Sum over ranks of this rank's count of wrong elements."""
    t = torch.tensor([float(count)], dtype=torch.float32)
    dist.all_reduce(t)
    return int(t.item())


def bench_allreduce(nbytes, iters, warmup, rank, n):
    """Times in-place SUM all_reduces of nbytes and checks every result.

    Rank r contributes pattern * (r + 1 + it), pattern = 1 + (index mod 7),
    so the sum is pattern * (n(n+1)/2 + n*it): exact small integers in
    float32, different in every iteration (a stale buffer shows) and along
    the buffer (a misplaced chunk shows)."""
    count = nbytes // 4
    pattern = 1 + torch.arange(count, dtype=torch.int64).remainder_(7).to(torch.float32)
    buf = torch.empty_like(pattern)
    expected = torch.empty_like(pattern)
    times, wrong = [], 0
    dist.barrier()
    for it in range(warmup + iters):
        torch.mul(pattern, float(rank + 1 + it), out=buf)
        # Ranks leave the previous check at different times (8 processes
        # share 2 cores): line them up, or the skew is timed as collective.
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(buf)
        elapsed = time.perf_counter() - t0
        torch.mul(pattern, float(n * (n + 1) // 2 + n * it), out=expected)
        wrong += int(torch.ne(buf, expected).sum().item())
        if it >= warmup:
            times.append(elapsed * 1e6)
    return slowest(times), total_errors(wrong)


def make_mlp(hidden, layers):
    mods = []
    for _ in range(layers):
        mods += [torch.nn.Linear(hidden, hidden), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(hidden, 16))
    return torch.nn.Sequential(*mods)


def bench_ddp(args, rank, n):
    """Median DDP step time; checks that the replicas stay identical."""
    torch.manual_seed(1234 + rank)  # different start: DDP must broadcast rank 0's
    model = make_mlp(args.hidden, args.layers)
    params = sum(p.numel() for p in model.parameters())
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb)
    opt = torch.optim.SGD(ddp.parameters(), lr=1e-3)
    x = torch.randn(args.batch, args.hidden)
    y = torch.randn(args.batch, 16)
    times = []
    dist.barrier()
    for step in range(args.ddp_warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        loss.backward()  # the gradient buckets are all-reduced during backward
        opt.step()
        elapsed = time.perf_counter() - t0
        if step >= args.ddp_warmup:
            times.append(elapsed * 1e6)
    # Same gradients everywhere -> same weights: compare a checksum with the
    # mean over ranks (exact agreement is expected, allow float rounding).
    with torch.no_grad():
        mine = sum(p.double().sum() for p in model.parameters()).float().reshape(1)
    mean = mine.clone()
    dist.all_reduce(mean)
    mean /= n
    diverged = int(abs(mine.item() - mean.item()) > 1e-4 * max(1.0, abs(mean.item())))
    buckets = len(ddp.reducer._get_zeros_like_grad_buckets()) \
        if hasattr(ddp.reducer, "_get_zeros_like_grad_buckets") else None
    return {"params": params, "grad_bytes": params * 4, "buckets": buckets,
            "bucket_cap_mb": args.bucket_cap_mb, "batch": args.batch,
            "hidden": args.hidden, "layers": args.layers, "steps": args.steps,
            "samples_us": slowest(times), "diverged_ranks": total_errors(diverged)}


def main(argv=None):
    args = parse_args(argv)
    rank = env_int("RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
    world = env_int("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE")
    torch.set_num_threads(args.threads)
    if args.backend == "strata":
        import strata.torch  # noqa: F401  registers the "strata" backend
    t0 = time.perf_counter()
    dist.init_process_group(args.backend, init_method=args.init_method, rank=rank,
                            world_size=world,
                            timeout=datetime.timedelta(seconds=args.timeout))
    init_s = time.perf_counter() - t0
    n = dist.get_world_size()

    # Per-call overhead: many 4-byte all_reduces (checked like the others).
    lat, lat_wrong = bench_allreduce(4, args.latency_iters, max(args.warmup, 10), rank, n)
    rows = []
    for nbytes in args.sizes:
        samples, wrong = bench_allreduce(nbytes, args.iters, args.warmup, rank, n)
        med_s = statistics.median(samples) / 1e6
        rows.append({"bytes": nbytes, "iters": args.iters, "median_us": med_s * 1e6,
                     "min_us": min(samples), "max_us": max(samples),
                     "algbw_gbps": nbytes / med_s / 1e9,
                     "busbw_gbps": 2 * (n - 1) / n * nbytes / med_s / 1e9,
                     "wrong_elements": wrong, "samples_us": samples})
    ddp = bench_ddp(args, rank, n) if args.steps > 0 else None
    dist.barrier()

    failed = lat_wrong + sum(r["wrong_elements"] for r in rows) + (ddp["diverged_ranks"] if ddp else 0)
    if rank == 0:
        result = {"backend": args.backend, "world_size": n, "torch": torch.__version__,
                  "init_s": init_s, "threads": args.threads,
                  "latency": {"bytes": 4, "iters": args.latency_iters,
                              "median_us": statistics.median(lat), "min_us": min(lat),
                              "wrong_elements": lat_wrong},
                  "allreduce": rows, "ddp": None, "ok": failed == 0}
        print(f"# torch_bench backend={args.backend} world_size={n} torch={torch.__version__} "
              f"init {init_s:.2f} s")
        print(f"# 4-byte all_reduce: median {result['latency']['median_us']:.1f} us "
              f"over {args.latency_iters} calls")
        print(f"{'bytes':>8} {'median_us':>12} {'min_us':>12} {'algbw_GB/s':>11} "
              f"{'busbw_GB/s':>11} {'wrong':>6}")
        for r in rows:
            print(f"{human(r['bytes']):>8} {r['median_us']:>12.1f} {r['min_us']:>12.1f} "
                  f"{r['algbw_gbps']:>11.4f} {r['busbw_gbps']:>11.4f} {r['wrong_elements']:>6}")
        if ddp:
            ddp["median_step_ms"] = statistics.median(ddp["samples_us"]) / 1e3
            result["ddp"] = ddp
            print(f"# DDP MLP {ddp['layers']}x{ddp['hidden']}: {ddp['params'] / 1e6:.1f}M params, "
                  f"{ddp['buckets'] or '?'} bucket(s) of <= {ddp['bucket_cap_mb']:g} MB, batch "
                  f"{ddp['batch']}: median step {ddp['median_step_ms']:.1f} ms over "
                  f"{ddp['steps']} steps, diverged ranks {ddp['diverged_ranks']}")
        print(f"# result: {'OK' if failed == 0 else 'WRONG RESULTS'}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
    dist.destroy_process_group()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
