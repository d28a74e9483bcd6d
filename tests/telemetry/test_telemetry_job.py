#!/usr/bin/python3
"""A 4-rank job over two fake sites with STRATA_METRICS_PORT and STRATA_TRACE:
scrapes every rank's endpoint over HTTP while the job runs (and strata-top
--once), then merges the per-rank traces and checks them.

    test_telemetry_job.py MPIEXEC STRATA_PERF SOURCE_DIR
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

MPIEXEC, PERF, SOURCE = sys.argv[1:4]
RANKS = 4


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200, response.status
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4"), response.headers
        return response.read().decode()


def value(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total, found = 0.0, False
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    assert found, f"no {name} {labels}"
    return total


def start_job(base_port, trace):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               STRATA_METRICS_PORT=str(base_port), STRATA_TRACE=trace, STRATA_TIMEOUT="60",
               STRATA_ALGO="allreduce=hier")
    command = [MPIEXEC, "--oversubscribe", "--bind-to", "none", "-np", str(RANKS),
               "-x", "STRATA_METRICS_PORT", "-x", "STRATA_TRACE", "-x", "STRATA_TIMEOUT", "-x", "STRATA_ALGO",
               "/bin/sh", os.path.join(SOURCE, "tests/mpi/interleaved_sites.sh"),
               PERF, "-b", "1M", "-e", "1M", "-n", "1500", "-w", "2", "-c", "0", "allreduce"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_endpoints(job, ports):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if job.poll() is not None:
            sys.exit("job ended before its endpoints answered:\n" + job.stdout.read())
        try:
            texts = [scrape(port) for port in ports]
            if all('collective="allreduce"' in text for text in texts):
                return texts
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    job.kill()
    sys.exit("the metrics endpoints did not answer within 60 s")


def check_scrapes(first, second):
    for rank, (a, b) in enumerate(zip(first, second)):
        calls_a = value(a, "strata_collective_calls_total", collective="allreduce")
        calls_b = value(b, "strata_collective_calls_total", collective="allreduce")
        assert calls_b > calls_a, f"rank {rank}: calls did not advance ({calls_a} -> {calls_b})"
        sent = value(b, "strata_link_bytes_total", link="wan", lane="all", direction="send")
        assert sent > 0, f"rank {rank}: no WAN bytes counted"
        assert value(b, "strata_link_busy_seconds_total", link="wan", lane="all", direction="send") > 0
        assert "# TYPE strata_collective_seconds histogram" in b
        assert 'algorithm="hier"' in b, "the algorithm chosen is a label"
    print(f"scrapes ok: rank 0 calls {value(first[0], 'strata_collective_calls_total')} -> "
          f"{value(second[0], 'strata_collective_calls_total')}")


def check_not_found(port):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        sys.exit("/other should be 404")
    except urllib.error.HTTPError as error:
        assert error.code == 404, error.code


def check_top(ports):
    top = subprocess.run([sys.executable, os.path.join(SOURCE, "tools/strata-top"), "--ports",
                          f"{ports[0]}-{ports[-1]}", "--once", "--interval", "0.5"],
                         capture_output=True, text=True, timeout=60)
    print(top.stdout)
    assert top.returncode == 0, top.stderr
    assert f"{len(ports)}/{len(ports)} endpoints" in top.stdout, top.stdout
    assert "wan site 1" in top.stdout and "CALLS" in top.stdout, top.stdout


def check_trace(directory, pattern):
    files = [os.path.join(directory, f"trace.rank{rank}.json") for rank in range(RANKS)]
    merged = os.path.join(directory, "merged.json")
    subprocess.run([sys.executable, os.path.join(SOURCE, "tools/strata-trace-merge"), *files, "-o", merged],
                   check=True, timeout=120)
    with open(merged) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    pids = {e["pid"] for e in events}
    assert pids == set(range(RANKS)), pids
    collectives = [e for e in events if e["ph"] == "X" and e["name"] == "allreduce"]
    assert len(collectives) >= RANKS * 1500, len(collectives)
    assert all(e["dur"] > 0 and e["args"]["algorithm"] == "hier" for e in collectives)
    begins = [e for e in events if e["ph"] == "b"]
    ends = {(e["pid"], e["id"]) for e in events if e["ph"] == "e"}
    assert begins and all((e["pid"], e["id"]) in ends for e in begins), "every transfer begins and ends"
    sent = sum(e["args"]["bytes"] for e in begins if e["name"].startswith("send wan"))
    received = sum(e["args"]["bytes"] for e in begins if e["name"].startswith("receive wan"))
    assert sent == received > 0, (sent, received)
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert any("wan to site" in n for n in names), names
    print(f"trace ok: {len(events)} events, {len(collectives)} allreduce slices, {sent} WAN bytes each way")


def main():
    base_port = random.randrange(20000, 40000, 16)
    ports = [base_port + rank for rank in range(RANKS)]
    with tempfile.TemporaryDirectory() as directory:
        job = start_job(base_port, os.path.join(directory, "trace.json"))
        try:
            first = wait_for_endpoints(job, ports)
            time.sleep(1.0)  # scraped at 1 s, as Prometheus would
            second = [scrape(port) for port in ports]
            check_scrapes(first, second)
            check_not_found(ports[0])
            check_top(ports)
        except BaseException:
            job.kill()
            print(job.communicate(timeout=60)[0])
            raise
        output, _ = job.communicate(timeout=240)
        assert job.returncode == 0, output
        check_trace(directory, "trace.json")
    print("telemetry job test passed")


if __name__ == "__main__":
    main()
