#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on this machine, for tests: munged, slurmctld and
# slurmd started by hand (no systemd) with every file - munge key, slurm.conf, state, spool,
# logs, sockets, pid files - in one directory. Source this file, then:
#   cluster_start DIR   writes the configuration into DIR and starts the three daemons;
#                       exports SLURM_CONF so sbatch/squeue/sacct/scontrol use it.
#                       Returns non-zero (with a reason on stderr) if they cannot start.
#   cluster_stop        stops the daemons it started (by their pid files) and waits.
# Needs root (slurmd runs jobs as their submitting user) and Debian's slurm-wlm + munge.

cluster_log() { echo "local_cluster: $*" >&2; }

# A free TCP port on 127.0.0.1 (python3 is a build dependency anyway).
cluster_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cluster_start() {
  local dir=$1
  CLUSTER_DIR=$dir
  if ((EUID != 0)); then
    cluster_log "must run as root (slurmd runs the jobs as their submitting user)"
    return 1
  fi
  local need
  for need in munged mungekey slurmctld slurmd sbatch squeue scancel sinfo; do
    if ! command -v "$need" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$need ]]; then
      cluster_log "$need not installed (Debian packages slurm-wlm and munge)"
      return 1
    fi
  done
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 700 "$dir" "$dir/munge"
  # munged refuses a key or socket directory that others can write to; keep it private.
  /usr/sbin/mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  local sock=$dir/munge/munge.socket
  /usr/sbin/munged --force --key-file="$dir/munge/munge.key" --socket="$sock" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" || { cluster_log "munged did not start"; return 1; }

  local host ctld_port slurmd_port cpus
  host=$(hostname)
  ctld_port=$(cluster_free_port)
  slurmd_port=$(cluster_free_port)
  cpus=$(nproc)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=cannonball-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=cbnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=cbtest Nodes=cbnode Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$dir/slurm.conf
  /usr/sbin/slurmctld -f "$SLURM_CONF" || { cluster_log "slurmctld did not start"; return 1; }
  /usr/sbin/slurmd -f "$SLURM_CONF" -N cbnode || { cluster_log "slurmd did not start"; return 1; }
  # Wait until the node is idle (registered with the controller).
  local i state
  for ((i = 0; i < 60; i++)); do
    state=$(sinfo -h -N -n cbnode -o %T 2>/dev/null || true)
    [[ $state == idle* ]] && return 0
    sleep 0.5
  done
  cluster_log "node did not come up (state '${state:-none}'); logs in $dir/log"
  tail -n 5 "$dir"/log/*.log >&2 || true
  return 1
}

cluster_stop() {
  local dir=${CLUSTER_DIR:-}
  [[ -n $dir ]] || return 0
  local f pid i
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [[ -s $f ]] || continue
    pid=$(<"$f")
    kill "$pid" 2>/dev/null || continue
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  CLUSTER_DIR=
}
