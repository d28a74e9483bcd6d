#!/bin/sh
# Runs "$@" as if this rank were in site s<rank mod 2>: even and odd ranks
# form two sites on one machine, so hierarchical algorithms run over real
# transports (UCX between the "sites", shared memory inside them) without
# the emulated testbed. NODES_PER_SITE=k (default 1) also spreads each
# site's ranks over k "hosts" in turn (UCX between them, shared memory on
# one), so the node level of the site phases runs too.
site=$((OMPI_COMM_WORLD_RANK % 2))
node=$((OMPI_COMM_WORLD_RANK / 2 % ${NODES_PER_SITE:-1}))
STRATA_SITE=s$site STRATA_HOSTID=h${site}n$node exec "$@"
