"""Measuring what the emulated links deliver: RTT and TCP throughput.

Both run real traffic between two sites' WAN addresses, so they measure the
whole path (TCP stacks + TUN + emulator), which is what a job would see.
"""

import json
import os
import select
import shutil
import subprocess
import time

from .launcher import site_prefix
from .shell import SitesError

PROBE = os.path.join(os.path.dirname(os.path.realpath(__file__)),
                     "udp_probe.py")
SERVER_READY_TIMEOUT_S = 5.0
RTT_PORT = 7001
PROBE_RT_PRIORITY = 5   # below the emulator's 10: it must never wait on us
IPERF_BASE_PORT = 5201


def _start_server(site, argv, ready_word):
    """Starts a server inside `site` and waits for its readiness line.

    Reads the raw pipe: a buffered readline() would hide a second line that
    arrived together with the first from select().
    """
    proc = subprocess.Popen(site_prefix(site) + argv, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    seen = b""
    while time.monotonic() < deadline and ready_word.encode() not in seen:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if ready and not chunk:
            break
        seen += chunk
    if ready_word.encode() in seen:
        return proc
    proc.kill()
    proc.wait()
    output = seen.decode(errors="replace").strip()
    raise SitesError(f"server '{' '.join(argv)}' in {site['netns']} did not "
                     f"start: {output}")


def _realtime():
    """Probes run SCHED_FIFO like the emulator: on a loaded 2-core host a
    normally scheduled probe waits milliseconds for a CPU, and that wait
    would be reported as network RTT."""
    return ["chrt", "-f", str(PROBE_RT_PRIORITY)] if shutil.which("chrt") \
        else []


def rtt(state, src, dst, count=20, interval_s=0.05):
    """UDP round trips src -> dst -> src; returns the probe's JSON dict."""
    a, b = state["sites"][src], state["sites"][dst]
    python = _realtime() + ["/usr/bin/python3", PROBE]
    server = _start_server(b, python + ["echo", b["wan_addr"], str(RTT_PORT)],
                           "ready")
    try:
        proc = subprocess.run(
            site_prefix(a) + python + ["ping", b["wan_addr"], str(RTT_PORT),
                                       str(count), str(interval_s)],
            capture_output=True, text=True, timeout=count * 3 + 10)
        if proc.returncode != 0:
            raise SitesError(f"rtt probe failed: {proc.stderr.strip()}")
        result = json.loads(proc.stdout)
    finally:
        _stop(server)
    result.update(src=src, dst=dst)
    return result


def _stop(proc, grace_s=3.0):
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _iperf_client(state, src, dst, port, seconds, omit, streams):
    a, b = state["sites"][src], state["sites"][dst]
    argv = ["iperf3", "-c", b["wan_addr"], "-B", a["wan_addr"], "-p",
            str(port), "-t", str(seconds), "-O", str(omit), "-P", str(streams),
            "-J"]
    return subprocess.Popen(site_prefix(a) + argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _flow_result(src, dst, proc, seconds):
    out, err = proc.communicate(timeout=seconds + 30)
    try:
        doc = json.loads(out)
    except ValueError:
        raise SitesError(f"iperf3 {src}>{dst} failed: {err.strip()}")
    if "error" in doc:
        raise SitesError(f"iperf3 {src}>{dst}: {doc['error']}")
    end = doc["end"]
    return {"src": src, "dst": dst,
            "bps": end["sum_received"]["bits_per_second"],
            "sender_bps": end["sum_sent"]["bits_per_second"],
            "retransmits": end["sum_sent"].get("retransmits", 0)}


def throughput(state, flows, seconds=4, omit=2, streams=1):
    """Concurrent iperf3 TCP flows [(src, dst), ...]; bps at the receiver.

    `omit` seconds of slow start are left out, so the number is the
    sustained rate the link settles to.
    """
    if not shutil.which("iperf3"):
        raise SitesError("iperf3 not found (apt-get install iperf3)")
    servers, clients = [], []
    try:
        for n, (_, dst) in enumerate(flows):
            site = state["sites"][dst]
            servers.append(_start_server(
                site, ["iperf3", "-s", "-1", "--forceflush", "-B",
                       site["wan_addr"], "-p", str(IPERF_BASE_PORT + n)],
                "listening"))
        for n, (src, dst) in enumerate(flows):
            clients.append(_iperf_client(state, src, dst, IPERF_BASE_PORT + n,
                                         seconds, omit, streams))
        results = [_flow_result(s, d, c, seconds)
                   for (s, d), c in zip(flows, clients)]
    finally:
        for proc in clients + servers:
            _stop(proc, grace_s=5.0)
    return {"flows": results, "seconds": seconds, "omit": omit,
            "streams": streams, "total_bps": sum(r["bps"] for r in results)}
