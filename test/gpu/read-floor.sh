#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The file-read floor of a sort on this machine: how fast the recording's bytes come off the disk
# (page cache dropped first when we may) and out of the page cache.
#
#   bash test/gpu/read-floor.sh FILE...
#
# Prints one line per file and pass: bytes, seconds, MB/s. A sort cannot be faster than reading its
# recording once (the drift and extraction rounds read it again, usually from the page cache).
set -euo pipefail
for f in "$@"; do
  bytes=$(stat -c %s "$f")
  for pass in cold warm; do
    if [ "$pass" = cold ]; then
      if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then :; else pass="cold (page cache NOT dropped: no permission)"; fi
    fi
    start=$(date +%s.%N)
    dd if="$f" of=/dev/null bs=16M status=none
    end=$(date +%s.%N)
    awk -v f="$f" -v p="$pass" -v b="$bytes" -v s="$start" -v e="$end" \
      'BEGIN { t = e - s; printf "%s %s: %d bytes in %.3f s = %.0f MB/s\n", f, p, b, t, b / t / 1e6 }'
  done
done
