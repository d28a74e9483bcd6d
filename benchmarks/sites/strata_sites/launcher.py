"""The commands that put a process into a site, and the mpirun MPMD line.

mpirun stays in the root namespace; each app context enters one site:
  ip netns exec NETNS  nsenter --ipc=F --uts=F --  env STRATA_SITE=i ... PROG
`ip netns exec` also remounts /sys for the site, so hwloc and UCX see only
the site's interfaces. PMIx listens on the management bridge (the ranks
cannot reach the root namespace any other way), and Open MPI's own data
path is pinned to TCP over the WAN subnet so it never uses shared memory
between sites.
"""

import shlex

MPIRUN_ENV_BASE = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "PMIX_MCA_ptl_tcp_remote_connections": "1",
}


def site_env(site):
    """What a process in `site` is told about where it runs."""
    return {"STRATA_SITE": str(site["index"]),
            "STRATA_HOSTID": site["name"],
            "UCX_NET_DEVICES": site["tun"]}


def site_prefix(site):
    """argv prefix that runs the rest of argv inside `site`."""
    env = [f"{k}={v}" for k, v in site_env(site).items()]
    return (["ip", "netns", "exec", site["netns"],
             "nsenter", f"--ipc={site['ipc_ns']}", f"--uts={site['uts_ns']}",
             "--", "env"] + env)


def mpirun_env(state):
    return dict(MPIRUN_ENV_BASE, PMIX_MCA_ptl_tcp_if_include=state["bridge"])


def mpirun_command(state, ranks_per_site, program, mpi_baseline=False,
                   mpirun="mpirun", extra_args=()):
    """The full MPMD command line (list) for `strata-sites run`."""
    cmd = [mpirun, "--oversubscribe", "--bind-to", "none",
           # No remote daemons here, but keep ORTE's OOB on the bridge too.
           "--mca", "oob_tcp_if_include", state["bridge"],
           # Open MPI's data path: TCP over the WAN subnet, never vader/shm.
           "--mca", "btl", "self,tcp",
           "--mca", "btl_tcp_if_include", state["wan_subnet"]]
    if mpi_baseline:
        # Also rule out pml ucx, so the baseline is plain ob1/TCP.
        cmd += ["--mca", "pml", "ob1"]
    cmd += list(extra_args)
    for n, site in enumerate(state["sites"]):
        if n:
            cmd.append(":")
        cmd += ["-np", str(ranks_per_site)] + site_prefix(site) + list(program)
    return cmd


def format_command(env, cmd):
    """A shell-pasteable rendering, env assignments first."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    return f"{assigns} {shlex.join(cmd)}" if assigns else shlex.join(cmd)
