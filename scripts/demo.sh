#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job: build af_demo and show it working. Installs what is
# missing, builds the module and the echo example, boots a QEMU guest on
# the newest kernel of the test matrix (or $KVER), loads the module and
# runs an AF_DEMO client/server exchange between two network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
kver=${KVER:-$(scripts/kernels.sh | tail -n 1)}
make -s modules KVER="$kver"
make -s examples
out=build/demo-out
rm -rf "$out"
mkdir -p "$out"
AFDEMO_APPEND=quiet scripts/vm-run.sh -k "$kver" -o "$out" -t 300 -- scripts/demo-guest.sh
