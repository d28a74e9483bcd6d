"""strata-sites: an emulated multi-site network on one machine.

See docs/testbed.md. Modules:
  config    link specs (--link, --config JSON) -> resolved per-direction links
  state     the on-disk record of what `up` made (so `down` works after a crash)
  netsetup  namespaces, management bridge, TUN devices (up / down)
  emulator  starting, stopping and reading strata-wan-emu
  launcher  the mpirun MPMD command line for `run`
  status    `status` text and JSON
  measure   RTT (UDP echo) and throughput (iperf3) between sites
  shell     running commands, exit codes
  cli       argument parsing and the subcommands
"""
