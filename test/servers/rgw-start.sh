#!/usr/bin/env bash
# Bring up a throw-away single-node Ceph cluster (1 mon + 1 in-memory "memstore" OSD, no mgr)
# and radosgw (beast frontend) on 127.0.0.1, without systemd, cephadm or containers.
# Tested on Debian 12 (bookworm) with ceph/radosgw 16.2.15.
#
# Usage:
#   rgw-start.sh                    bring up a new cluster in $RGW_DIR (wiped first)
#   rgw-start.sh --restart-gateway  kill the running radosgw of $RGW_DIR (SIGKILL) and start it
#                                   again on the same cluster; the stored data survives
#
# Env knobs:
#   RGW_DIR           cluster state, logs, pid files      (default ${TMPDIR:-/tmp}/cdn-publish-rgw)
#   RGW_PORT          S3 port on 127.0.0.1                (default 7580)
#   MON_V2 / MON_V1   monitor ports                       (default 3330 / 6730)
#   OSD_PORT_MIN/MAX  port range for the OSD messengers   (default 7530 / 7570)
#   RGW_ACCESS_KEY / RGW_SECRET_KEY                 keys of the bucket-owning user (default random)
#   RGW_DENIED_ACCESS_KEY / RGW_DENIED_SECRET_KEY   keys of a second user who has no rights on the
#                                                   first user's buckets (default random)
#   MEMSTORE_BYTES    cap of the in-RAM OSD store         (default 2 GiB)
#
# The defaults keep clear of s3rver (which the tests start on a free ephemeral port; its own
# default is 4568) and of radosgw's usual 7480.
# Progress goes to stderr. The last lines on stdout are machine-readable `key=value` pairs:
#   endpoint, access_key, secret_key, denied_access_key, denied_secret_key, rgw_dir
set -euo pipefail

D=$(realpath -m "${RGW_DIR:-${TMPDIR:-/tmp}/cdn-publish-rgw}")
PORT=${RGW_PORT:-7580}
MON_V2=${MON_V2:-3330}
MON_V1=${MON_V1:-6730}
OSD_PORT_MIN=${OSD_PORT_MIN:-7530}
OSD_PORT_MAX=${OSD_PORT_MAX:-7570}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-2147483648}
C=(-c "$D/ceph.conf")

t0=$(date +%s%N)
ts() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); printf '[%3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
answering() { curl -fs -m 2 -o /dev/null "http://127.0.0.1:$PORT/"; }
# a pid is ours only if it runs with this cluster's ceph.conf
ours() { kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$D/ceph.conf"; }
randkey() { local s; s=$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc "$1"); printf '%s' "${s:0:$2}"; }

start_gateway() {
  radosgw "${C[@]}" -n client.rgw.a
  for _ in $(seq 1 300); do answering && break; sleep 0.1; done
  local pid
  pid=$(cat "$D/run/client.rgw.a.pid" 2>/dev/null || true)
  if ! answering || [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "radosgw did not come up; see $D/log/client.rgw.a.log" >&2
    exit 1
  fi
}

# --- restart of the gateway alone ------------------------------------------------------------
if [ "${1:-}" = "--restart-gateway" ]; then
  [ -f "$D/ceph.conf" ] || { echo "no cluster in $D; start one first" >&2; exit 1; }
  PORT=$(sed -n 's/^rgw frontends = beast endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$D/ceph.conf")
  f="$D/run/client.rgw.a.pid"
  if [ -f "$f" ]; then
    pid=$(cat "$f")
    if ours "$pid"; then
      kill -KILL "$pid"
      for _ in $(seq 1 100); do ours "$pid" || break; sleep 0.05; done
    fi
    rm -f "$f"
  fi
  for _ in $(seq 1 100); do listening "$PORT" || break; sleep 0.05; done
  ts "radosgw killed"
  start_gateway
  ts "radosgw answering again"
  echo "endpoint=http://127.0.0.1:$PORT"
  exit 0
fi

AK=${RGW_ACCESS_KEY:-CDNTEST$(randkey 'A-Z0-9' 13)}
SK=${RGW_SECRET_KEY:-$(randkey 'A-Za-z0-9' 40)}
DAK=${RGW_DENIED_ACCESS_KEY:-CDNDENY$(randkey 'A-Z0-9' 13)}
DSK=${RGW_DENIED_SECRET_KEY:-$(randkey 'A-Za-z0-9' 40)}

# 1. packages, only when missing
if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null \
   || ! command -v ceph >/dev/null || ! command -v radosgw-admin >/dev/null || ! command -v curl >/dev/null; then
  ts "installing radosgw ceph-mon ceph-osd ceph-common curl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    radosgw ceph-mon ceph-osd ceph-common curl >/dev/null
fi
ts "packages ready"

# 2. refuse to clobber a running instance or to wipe a system directory
case "$D" in /|/tmp|/root|/home|/var|/usr|/etc|/var/tmp) echo "refusing RGW_DIR=$D" >&2; exit 1;; esac
if [ -d "$D/run" ]; then
  for f in "$D"/run/*.pid; do
    [ -f "$f" ] && ours "$(cat "$f")" && { echo "already running ($f); run rgw-stop.sh first" >&2; exit 1; }
  done
fi
for p in "$MON_V2" "$MON_V1" "$PORT"; do
  listening "$p" && { echo "port 127.0.0.1:$p is already in use; pick other ports (MON_V2/MON_V1/RGW_PORT)" >&2; exit 1; }
done
rm -rf "$D"; mkdir -p "$D"/{mon,osd0,run,log,rgw,crash}

fsid=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind ipv6 = false
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
mon allow pool size one = true
mon warn on pool no redundancy = false
mon pg warn min per osd = 0
mon warn on insecure global id reclaim allowed = false
# the mon shuts itself down below mon_data_avail_crit (5 % free disk); a full CI disk must not kill it
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
crash dir = $D/crash
[mon.a]
mon data = $D/mon
# commit map changes quickly (default 1 s per proposal): bring-up takes ~3.5 s instead of ~20 s
paxos propose interval = 0.05
paxos min wait = 0.01
[osd.0]
osd data = $D/osd0
[client.rgw.a]
# radosgw defaults ms_mon_client_mode to "secure", which auth=none cannot provide
# (it then hangs 300 s and fails with -13)
ms mon client mode = secure crc
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $D/rgw
rgw thread pool size = 64
# fail in 60 s instead of 300 s if radosgw cannot reach the cluster
rgw init timeout = 60
# reclaim deleted objects' tail data soon (default waits 2 h); memstore keeps everything in RAM
rgw gc obj min wait = 0
rgw gc processor period = 10
CONF
cephc() { timeout 60 ceph "${C[@]}" "$@"; }   # never hang forever on a dead mon

# 3. monitor
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" "$D/monmap" >/dev/null
ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-mon "${C[@]}" -i a --mkfs --monmap "$D/monmap" --keyring "$D/mon.keyring"
ceph-mon "${C[@]}" -i a
for _ in $(seq 1 100); do timeout 5 ceph "${C[@]}" mon stat >/dev/null 2>&1 && break; sleep 0.2; done
ts "mon up"

# 4. one OSD on memstore
id=$(cephc osd create)
ceph-osd "${C[@]}" -i "$id" --mkfs >"$D/log/osd-mkfs.out" 2>&1
cephc osd crush add "osd.$id" 1 root=default host=localhost >/dev/null 2>&1
ceph-osd "${C[@]}" -i "$id" 2>>"$D/log/osd-start.err"
for _ in $(seq 1 150); do cephc osd dump 2>/dev/null | grep -q "^osd.$id up" && break; sleep 0.2; done
cephc osd dump 2>/dev/null | grep -q "^osd.$id up" || { echo "osd.$id did not come up; see $D/log/osd.$id.log" >&2; exit 1; }
ts "osd up"

# pre-create the bucket pools so the first CreateBucket/PutObject is not slowed by pool creation
for p in default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
  cephc osd pool create "$p" 8 8 >/dev/null 2>&1
  cephc osd pool application enable "$p" rgw >/dev/null 2>&1
done
ts "bucket pools created"

# 5. radosgw (creates its remaining pools on first start)
start_gateway
ts "radosgw answering"

# 6. S3 users: the owner of the test buckets, and a second user with no rights on them
# (buckets are private to their owner by default, so the second user gets a real AccessDenied)
radosgw-admin "${C[@]}" user create --uid=cdn-test --display-name="cdn-publish test owner" \
  --access-key="$AK" --secret-key="$SK" >"$D/user.json" 2>"$D/log/user-create.err"
radosgw-admin "${C[@]}" user create --uid=cdn-denied --display-name="cdn-publish test outsider" \
  --access-key="$DAK" --secret-key="$DSK" >"$D/denied-user.json" 2>>"$D/log/user-create.err"
ts "users created; bring-up done"

echo "endpoint=http://127.0.0.1:$PORT"
echo "access_key=$AK"
echo "secret_key=$SK"
echo "denied_access_key=$DAK"
echo "denied_secret_key=$DSK"
echo "rgw_dir=$D"
