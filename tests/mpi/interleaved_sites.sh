#!/bin/sh
# Runs "$@" as if this rank were on host h<rank mod 2> in site s<rank mod 2>:
# even and odd ranks form two sites on one machine, so hierarchical
# algorithms run over real transports (UCX between the "sites", shared
# memory inside them) without the emulated testbed.
site=$((OMPI_COMM_WORLD_RANK % 2))
STRATA_SITE=s$site STRATA_HOSTID=h$site exec "$@"
