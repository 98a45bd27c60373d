#!/usr/bin/env bash
# Compatibility suite: real clients nobody here wrote, run against a release build of slabd.
# Each part is a script in scripts/compat.d/, run in name order; any failure fails the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLABD="${SLABD:-$PWD/target/release/slabd}"
failed=0
for part in scripts/compat.d/*.sh; do
  [ -e "$part" ] || continue
  echo "== compat: $part"
  if bash "$part"; then echo "== compat: $part ok"; else echo "== compat: $part FAILED"; failed=1; fi
done
exit $failed
