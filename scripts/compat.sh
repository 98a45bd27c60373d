#!/usr/bin/env bash
# Compatibility suite: real clients nobody here wrote, against a release build of slabd.
set -euo pipefail
echo "compat: nothing yet"
