#!/usr/bin/python3
"""Runs an MPI test program under mpirun with libstrata-mpi.so and checks
what its STRATA_MPI_STATS lines say, so a test cannot pass by the library
silently not being there:

    run_shim.py --mpirun MPIRUN --np N --shim LIB [--linked] [--expect strata|disabled] -- PROGRAM ARGS

--linked: the program links the library itself (no LD_PRELOAD).
--expect strata: every rank ran some Allreduce on Strata; disabled: none did.
"""

import argparse
import os
import re
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--np", type=int, required=True)
    parser.add_argument("--shim", required=True)
    parser.add_argument("--linked", action="store_true")
    parser.add_argument("--expect", choices=("strata", "disabled"), default="strata")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every rank")
    parser.add_argument("--expect-fallback", help="a reason every rank's statistics must show (e.g. host-small)")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    # Small calls on one host go to MPI by default; the checks want Strata to do them all.
    command = [args.mpirun, "--oversubscribe", "--bind-to", "none", "-np", str(args.np), "-x", "STRATA_MPI_STATS=1",
               "-x", "STRATA_TIMEOUT=60", "-x", "STRATA_MPI_HOST_MIN_BYTES=0"]
    for setting in args.env:
        command += ["-x", setting]
    if not args.linked:
        command += ["-x", f"LD_PRELOAD={args.shim}"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    done = subprocess.run(command + program, capture_output=True, text=True, timeout=600, env=env)
    output = done.stdout + done.stderr
    print(output)
    stats = re.findall(r"^strata-mpi: rank (\d+):(.*)$", output, re.MULTILINE)
    problems = []
    if done.returncode != 0:
        problems.append(f"exit status {done.returncode}")
    if len(stats) != args.np:
        problems.append(f"{len(stats)} of {args.np} ranks printed STRATA_MPI_STATS (is the library loaded?)")
    for rank, line in stats:
        on_strata = re.search(r"Allreduce\(strata [1-9]", line) is not None
        if args.expect == "strata" and not on_strata:
            problems.append(f"rank {rank} ran no Allreduce on Strata: {line}")
        if args.expect == "disabled" and ("strata " in line or "disabled" not in line):
            problems.append(f"rank {rank} was not disabled: {line}")
        if args.expect_fallback and f"{args.expect_fallback} " not in line:
            problems.append(f"rank {rank} shows no '{args.expect_fallback}' fallback: {line}")
    for problem in problems:
        print(f"run_shim: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
