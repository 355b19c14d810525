#!/usr/bin/env bash
# A single-host Slurm cluster on this machine, for the scale-out test and for trying
# `vidcompare slurm` without a cluster: munged, slurmctld and slurmd on localhost, every file in
# one state folder.
#
#   tools/slurm-local.sh start DIR   start the daemons (installs slurm-wlm and munge when missing),
#                                    wait until the node is idle, print `export SLURM_CONF=...`
#   tools/slurm-local.sh stop DIR    stop exactly the daemons this script started (by pid file)
#
# Runs as root (Debian's slurm-wlm 22.05 and munge). Known to work in containers:
# proctrack/linuxproc, task/none, no accounting. slurmd logs PMIx errors at start: harmless.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
conf="$dir/slurm.conf"

stop_pid() {
    local f="$1"
    if [ -f "$f" ]; then
        local pid
        pid="$(cat "$f")"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$f"
    fi
}

if [ "$cmd" = "stop" ]; then
    stop_pid "$dir/slurmd.pid"
    stop_pid "$dir/slurmctld.pid"
    stop_pid "$dir/munged.pid"
    exit 0
fi
[ "$cmd" = "start" ] || { echo "unknown command $cmd (start, stop)" >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: must run as root (the daemons run as root in this single-host set-up)" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm-local: installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge
fi

# munge: its own key, socket and pid file inside DIR, run as the munge user (who must be able to
# reach DIR: mktemp -d makes it 700).
chmod 755 "$dir"
mkdir -p "$dir/munge"
chown munge:munge "$dir/munge"
chmod 700 "$dir/munge"
if [ ! -f "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
fi
socket="$dir/munge/munge.socket"
if ! { [ -f "$dir/munged.pid" ] && kill -0 "$(cat "$dir/munged.pid")" 2>/dev/null; }; then
    # munged checks that its folders are not writable by others; DIR may be a temporary folder.
    su -s /bin/sh munge -c "munged --key-file=$dir/munge/munge.key --socket=$socket \
        --pid-file=$dir/munge/munged.pid --log-file=$dir/munge/munged.log \
        --seed-file=$dir/munge/munged.seed --force" 
    for _ in $(seq 50); do [ -f "$dir/munge/munged.pid" ] && break; sleep 0.1; done
    cp "$dir/munge/munged.pid" "$dir/munged.pid"
fi

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat > "$conf" <<EOF
ClusterName=vidcompare-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$(( 16817 ))
SlurmdPort=$(( 16818 ))
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"
slurmctld -f "$conf"
slurmd -f "$conf"

for _ in $(seq 100); do
    state="$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)"
    if [ "$state" = "idle" ] || [ "$state" = "mixed" ]; then
        echo "export SLURM_CONF=$conf"
        exit 0
    fi
    sleep 0.3
done
echo "slurm-local: the node did not become idle; logs in $dir/log" >&2
sinfo >&2 || true
exit 1
