#!/bin/sh
# SPDX-License-Identifier: MIT
# Chromium at the lowest CPU priority, for `npm run mutate` on the elements (test/mutate-wtr-runner.mjs
# points CHROME_PATH here). Chromium raises the priority of its own processes (nice -8 for the
# browser and GPU processes) when it may, as root may: started under `nice -n 19`, it would still
# compete with the other users of a shared machine. As root, it runs without CAP_SYS_NICE, so it
# cannot. The browser is $TWIN_CHROMIUM (default /usr/bin/chromium).
browser="${TWIN_CHROMIUM:-/usr/bin/chromium}"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
  exec setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice nice -n 19 "$browser" "$@"
fi
exec nice -n 19 "$browser" "$@"
