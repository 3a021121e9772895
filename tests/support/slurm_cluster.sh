#!/usr/bin/env bash
# A throwaway single-node Slurm for tests: munged, slurmctld and slurmd started by hand (no
# systemd) with a generated slurm.conf in DIR, on free localhost ports, ProctrackType=
# proctrack/linuxproc and TaskPlugin=task/none (no cgroups needed in a container).
#   slurm_cluster.sh start DIR   prints "export SLURM_CONF=DIR/slurm.conf" once the node is idle
#   slurm_cluster.sh stop DIR    scancels everything, stops the daemons
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder}

case "$cmd" in
  start)
    for b in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
      command -v "$b" > /dev/null || { echo "$b not found (scripts/install-deps installs slurm-wlm and munge)" >&2; exit 1; }
    done
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chmod 755 "$dir" "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    # --force: the socket lives under /tmp, which munged would otherwise refuse as world-writable.
    # A daemon that does not start says why: its own message and its log, not a silent exit.
    started() {  # NAME COMMAND...
      local name=$1
      shift
      "$@" > "$dir/log/$name.start" 2>&1 && return 0
      echo "$name did not start ($*):" >&2
      cat "$dir/log/$name.start" >&2
      [ -f "$dir/log/$name.log" ] && tail -20 "$dir/log/$name.log" >&2
      exit 1
    }
    started munged munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
      --log-file="$dir/log/munged.log" --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/seed"
    ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
    read -r ctld_port d_port <<< "$ports"
    user=$(id -un)
    # Addresses given outright: a fresh machine (or a chroot) need not resolve its own hostname.
    host=$(hostname -s)
    node=$(slurmd -C 2>&1 | head -1)
    case "$node" in NodeName=*) ;; *) echo "slurmd -C did not describe this node: $node" >&2; exit 1 ;; esac
    cat > "$dir/slurm.conf" <<CONF
ClusterName=xptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdParameters=config_overrides
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    export SLURM_CONF="$dir/slurm.conf"
    started slurmctld slurmctld -f "$SLURM_CONF"
    # slurmd 22.05 initialises its cgroup plugin whatever the proctrack and task plugins are, and
    # stops without a cgroup filesystem. A container has one; a chroot (a bare /sys bound in) may
    # not: there slurmd gets its own mount namespace with a cgroup mount of the kind the host uses
    # (v2 alone, or v1's tmpfs: Slurm refuses a v2 mount on a v1 host) that ends with it.
    # --propagation unchanged: a chroot's / is no mount point; /sys is made private instead, so
    # nothing mounted there can propagate to the /sys it was bound from.
    if mountpoint -q /sys/fs/cgroup || [ "$(id -u)" != 0 ]; then
      started slurmd slurmd -f "$SLURM_CONF"
    else
      if grep -qv '^0::' /proc/self/cgroup; then  # v1: a tmpfs with the systemd hierarchy Slurm looks for
        cgroupfs='mount -t tmpfs cgroup_root /sys/fs/cgroup && mkdir /sys/fs/cgroup/systemd &&
                  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd'
      else
        cgroupfs='mount -t cgroup2 none /sys/fs/cgroup'
      fi
      started slurmd unshare --mount --propagation unchanged sh -c \
        "mount --make-rprivate /sys && $cgroupfs && exec slurmd -f \"\$1\"" sh "$SLURM_CONF"
    fi
    for _ in $(seq 1 300); do
      state=$(sinfo -h -o %t 2>/dev/null || true)
      [ "$state" = idle ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
      sleep 0.1
    done
    echo "the Slurm node did not become idle (state '$state'); logs:" >&2
    tail -20 "$dir"/log/*.log >&2
    exit 1
    ;;
  stop)
    export SLURM_CONF="$dir/slurm.conf"
    if [ -f "$SLURM_CONF" ]; then
      scancel --user="$(id -un)" 2>/dev/null || true
      scontrol shutdown 2>/dev/null || true
    fi
    for f in slurmd.pid slurmctld.pid; do
      [ -f "$dir/$f" ] && kill "$(cat "$dir/$f")" 2>/dev/null || true
    done
    [ -S "$dir/munge/munge.sock" ] && munged --stop --socket="$dir/munge/munge.sock" 2>/dev/null || true
    ;;
  *)
    echo "usage: slurm_cluster.sh start|stop DIR" >&2
    exit 2
    ;;
esac
