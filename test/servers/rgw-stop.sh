#!/usr/bin/env bash
# Stop only the daemons rgw-start.sh started, found through their pid files and double-checked
# (the process must be running with this cluster's ceph.conf).
# RGW_DIR as for rgw-start.sh. RGW_PURGE=1 also deletes the cluster directory; the daemons are
# then killed outright (SIGKILL), since nothing of their state is kept. Otherwise each gets SIGTERM
# and up to 5 s to exit, gateway first (about 5 s in all). The OSD keeps its data in memory only,
# so a stopped cluster is never restarted either way: start a new one.
D=$(realpath -m "${RGW_DIR:-${TMPDIR:-/tmp}/cdn-publish-rgw}")
ours() { kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$D/ceph.conf"; }
sig=TERM
[ "${RGW_PURGE:-0}" = 1 ] && sig=KILL
pids=()
for n in client.rgw.a osd.0 mon.a; do          # gateway first, monitor last
  f="$D/run/$n.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  ours "$pid" || continue
  kill "-$sig" "$pid"; pids+=("$pid")
  # one at a time: an OSD going down waits for the monitor to acknowledge it
  for _ in $(seq 1 100); do ours "$pid" || break; sleep 0.05; done
  ours "$pid" && kill -KILL "$pid"
done
rm -f "$D"/run/*.pid
if [ "${RGW_PURGE:-0}" = 1 ]; then
  case "$D" in /|/tmp|/root|/home|/var|/usr|/etc|/var/tmp) echo "refusing to purge RGW_DIR=$D" >&2;;
    *) [ -f "$D/ceph.conf" ] && rm -rf "$D";; esac
fi
echo "stopped: ${pids[*]:-none}"
exit 0
