#!/usr/bin/env bash
# slurm-harness.sh — a real one-host Slurm cluster for qq-run's integration tests (SPEC R148).
#
#   scripts/slurm-harness.sh start    install what is missing (Debian packages: slurmctld slurmd
#                                     slurm-client munge, plus the test prerequisites python3-yaml,
#                                     rsync, util-linux), create the unprivileged test user `qqtest`,
#                                     write /etc/slurm/slurm.conf, start munged, slurmctld and one
#                                     slurmd (no systemd), wait until the node is idle and run a
#                                     warm-up job as `qqtest`. Idempotent: what already runs is kept.
#                                     Last stdout line: "slurm-harness: ready in N.NN s"
#   scripts/slurm-harness.sh stop     cancel what is left, then stop only the daemons this script
#                                     started (pid files under $QQ_HARNESS_RUN).
#   scripts/slurm-harness.sh status   what this script started, and sinfo. Exit 0 when it all runs.
#
# Knobs (environment):
#   QQ_HARNESS_RUN=/run/qq-slurm-harness   pid files of the daemons this script started
#   QQ_HARNESS_LOG=/var/log/qq-slurm-harness  logs of apt and of the daemons
#   QQ_HARNESS_PROCTRACK=auto   cgroup (v1 freezer, as on real sites) | linuxproc | pgid;
#                               auto = cgroup when /sys/fs/cgroup/freezer is writable, else linuxproc
#   QQ_HARNESS_KILL_WAIT=5      KillWait (s from SIGTERM to SIGKILL on scancel or a time limit)
#   QQ_HARNESS_SLOTS=16         CPU slots offered by the one node (more than the host has: test jobs
#                               mostly sleep, and concurrent suites must not queue behind each other)
#   QQ_HARNESS_TIMEOUT=60       seconds to wait for the node, and for the warm-up job
#   QQ_TEST_USER=qqtest         the unprivileged test user
#
# Needs root (apt-get, useradd, daemons). Everything it prints besides the final line goes to stderr;
# command output goes to log files under $QQ_HARNESS_LOG.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export LC_ALL=C

RUN_DIR=${QQ_HARNESS_RUN:-/run/qq-slurm-harness}
HLOG=${QQ_HARNESS_LOG:-/var/log/qq-slurm-harness}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
CTLD_STATE=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
LOG_DIR=/var/log/slurm
TIMEOUT=${QQ_HARNESS_TIMEOUT:-60}
KILL_WAIT=${QQ_HARNESS_KILL_WAIT:-5}
PARTITION=debug
DEFAULT_TIME=1-00:00:00          # never NONE: tools that parse DefaultTime fail on it
TEST_USER=${QQ_TEST_USER:-qqtest}
PROCTRACK=${QQ_HARNESS_PROCTRACK:-auto}
if [[ $PROCTRACK == auto ]]; then
    if [[ -d /sys/fs/cgroup/freezer && -w /sys/fs/cgroup/freezer ]]; then PROCTRACK=cgroup; else PROCTRACK=linuxproc; fi
fi
HOST=$(hostname -s)
NODE=$HOST
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd-$NODE.pid
PKGS=(slurmctld slurmd slurm-client munge python3-yaml rsync util-linux passwd bubblewrap python3-venv)

log() { echo "slurm-harness: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

alive() { # alive PIDFILE: the pid in it is a live process
    [[ -s $1 ]] || return 1
    local p; p=$(cat "$1" 2>/dev/null) || return 1
    [[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts daemons)"; }

have_all() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v scontrol >/dev/null && command -v munged >/dev/null && command -v rsync >/dev/null \
        && command -v runuser >/dev/null && command -v useradd >/dev/null \
        && /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 \
        && command -v bwrap >/dev/null && /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1
}

install_pkgs() {
    have_all && return 0
    log "installing ${PKGS[*]} (apt; log: $HLOG/apt.log)"
    local t0; t0=$(now)
    # Keep the maintainer scripts from starting services (policy-rc.d: 101 = action forbidden).
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    local ok=1
    if ! apt-get install -y -q --no-install-recommends "${PKGS[@]}" >"$HLOG/apt.log" 2>&1 </dev/null; then
        apt-get update -q >"$HLOG/apt-update.log" 2>&1 </dev/null || true
        apt-get install -y -q --no-install-recommends "${PKGS[@]}" >"$HLOG/apt.log" 2>&1 </dev/null || ok=0
    fi
    if (( made_policy )); then rm -f /usr/sbin/policy-rc.d; fi
    (( ok )) || { tail -30 "$HLOG/apt.log" >&2; die "apt-get install failed"; }
    have_all || die "packages installed, but a tool is still missing (see $HLOG/apt.log)"
    log "apt install took $(elapsed "$t0") s"
}

ensure_test_user() {
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        useradd -m -s /bin/bash "$TEST_USER" >>"$HLOG/useradd.log" 2>&1 \
            || die "useradd $TEST_USER failed (see $HLOG/useradd.log)"
        log "created user $TEST_USER (uid $(id -u "$TEST_USER"))"
    fi
    [[ $(id -u "$TEST_USER") != 0 ]] || die "test user $TEST_USER has uid 0"
}

CONFIG_CHANGED=0
write_config() {
    mkdir -p "$CONF_DIR" "$CTLD_STATE" "$SLURMD_SPOOL/$NODE" "$LOG_DIR"
    local hw; hw=$(slurmd -C 2>/dev/null | head -1)
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$hw"; }
    local cpus mem
    cpus=$(field CPUs); mem=$(field RealMemory)
    [[ -n $cpus && -n $mem ]] || die "cannot read the hardware from 'slurmd -C': $hw"
    mem=$(( mem > 1024 ? mem - 256 : mem ))   # slurmd must never report less than configured
    # Test jobs mostly sleep: offer more CPU slots than the host has (config_overrides lets slurmd
    # accept that), so the concurrently running test suites never queue behind each other.
    local slots=$(( cpus > ${QQ_HARNESS_SLOTS:-16} ? cpus : ${QQ_HARNESS_SLOTS:-16} ))
    local tmp; tmp=$(mktemp)
    cat >"$tmp" <<CONF
# Written by qq-run's scripts/slurm-harness.sh: a test cluster on this one host.
ClusterName=qqtest
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=${CTLD_STATE}
SlurmdSpoolDir=${SLURMD_SPOOL}/%n
SlurmctldPidFile=${CTLD_PID}
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/${PROCTRACK}
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
KillWait=${KILL_WAIT}
InactiveLimit=0
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=60
MessageTimeout=10
PropagateResourceLimits=NONE
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
NodeName=${NODE} NodeHostname=${HOST} NodeAddr=127.0.0.1 CPUs=${slots} Boards=1 SocketsPerBoard=1 CoresPerSocket=${slots} ThreadsPerCore=1 RealMemory=${mem} State=UNKNOWN
PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE DefaultTime=${DEFAULT_TIME} State=UP
CONF
    if ! cmp -s "$tmp" "$CONF"; then install -m 0644 "$tmp" "$CONF"; CONFIG_CHANGED=1; fi
    # Read only with proctrack/cgroup. No systemd here, and a v1 hierarchy: name cgroup/v1.
    cat >"$tmp" <<CONF
# Written by qq-run's scripts/slurm-harness.sh.
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
ConstrainDevices=no
CONF
    if ! cmp -s "$tmp" "$CONF_DIR/cgroup.conf"; then install -m 0644 "$tmp" "$CONF_DIR/cgroup.conf"; CONFIG_CHANGED=1; fi
    rm -f "$tmp"
}

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    munge_ok && return 0     # a munged already serves (ours from before, or the system's)
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
    fi
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock "$MUNGE_PID"
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" >>"$HLOG/munged.out" 2>&1
    for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
    munge_ok || { tail -20 /var/log/munge/munged.log >&2 || true; die "munged did not come up"; }
    cp "$MUNGE_PID" "$RUN_DIR/munged.pid"
}

STARTED=0
start_slurmctld() {
    alive "$CTLD_PID" && return 0
    STARTED=1
    rm -rf "${CTLD_STATE:?}"/*      # forget old jobs; job ids restart at 1
    /usr/sbin/slurmctld -c >>"$HLOG/slurmctld.out" 2>&1
    for _ in $(seq 100); do alive "$CTLD_PID" && break; sleep 0.1; done
    alive "$CTLD_PID" || { tail -20 "$LOG_DIR/slurmctld.log" >&2 || true; die "slurmctld did not start"; }
    cp "$CTLD_PID" "$RUN_DIR/slurmctld.pid"
}

start_slurmd() {
    alive "$SLURMD_PID" && return 0
    STARTED=1
    /usr/sbin/slurmd -N "$NODE" >>"$HLOG/slurmd.out" 2>&1
    for _ in $(seq 100); do alive "$SLURMD_PID" && break; sleep 0.1; done
    alive "$SLURMD_PID" || { tail -20 "$LOG_DIR/slurmd-$NODE.log" >&2 || true; die "slurmd did not start"; }
    cp "$SLURMD_PID" "$RUN_DIR/slurmd.pid"
}

wait_idle() {
    local deadline=$(( $(date +%s) + TIMEOUT )) states resumed=0
    while :; do
        states=$(sinfo -h -N -o '%T' 2>/dev/null | sort -u | tr '\n' ' ' || true)
        [[ $states == "idle " || $states == "mixed " || $states == "allocated " ]] && return 0
        if [[ $states =~ down|drain|fail ]] && (( !resumed )); then
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
            resumed=1
        fi
        if (( $(date +%s) > deadline )); then
            sinfo -N -l >&2 || true
            tail -20 "$LOG_DIR/slurmctld.log" >&2 || true
            die "node $NODE not idle after ${TIMEOUT}s (states: ${states:-none})"
        fi
        sleep 0.1
    done
}

# One trivial job submitted by the test user: proves munge, slurmctld, slurmd, slurmstepd and the
# user's right to submit, and gets past slurmctld's first seconds in which it schedules nothing.
warmup() {
    local j st deadline=$(( $(date +%s) + TIMEOUT ))
    j=$(cd / && runuser -u "$TEST_USER" -- sbatch --parsable -J qq-harness-warmup -o /dev/null -e /dev/null \
            -D /tmp --wrap true 2>>"$HLOG/warmup.log") \
        || { cat "$HLOG/warmup.log" >&2; die "the warm-up job could not be submitted as $TEST_USER"; }
    while :; do
        st=$(scontrol show job "$j" -o 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
        case $st in
            COMPLETED) return 0 ;;
            FAILED|CANCELLED|TIMEOUT|NODE_FAIL|BOOT_FAIL|OUT_OF_MEMORY|DEADLINE)
                die "warm-up job $j ended $st" ;;
        esac
        (( $(date +%s) <= deadline )) || die "warm-up job $j still ${st:-unknown} after ${TIMEOUT}s"
        sleep 0.1
    done
}

# stop_pids NAME=PIDFILE ... (pid files in RUN_DIR): TERM all, wait up to 10 s, KILL stragglers.
stop_pids() {
    local spec name f p pids=() names=()
    for spec in "$@"; do
        name=${spec%%=*}; f=$RUN_DIR/${spec#*=}
        [[ -e $f ]] || continue
        p=$(cat "$f" 2>/dev/null || true)
        rm -f "$f"
        [[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null || continue
        kill -TERM "$p" 2>/dev/null || true
        pids+=("$p"); names+=("$name")
    done
    (( ${#pids[@]} )) || return 0
    local i left
    for _ in $(seq 100); do
        left=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
        (( left )) || break
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            log "${names[$i]} (pid ${pids[$i]}) did not stop in 10 s: KILL"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
    done
}

stop_slurm() {
    if alive "$RUN_DIR/slurmctld.pid"; then
        local ids; ids=$(squeue -h -o '%i' 2>/dev/null | tr '\n' ' ' || true)
        if [[ -n ${ids// /} ]]; then
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null || true
            for _ in $(seq 150); do [[ -z $(squeue -h -o '%i' 2>/dev/null) ]] && break; sleep 0.1; done
        fi
    fi
    stop_pids slurmd=slurmd.pid slurmctld=slurmctld.pid
}

cmd_start() {
    need_root
    local t0; t0=$(now)
    mkdir -p "$RUN_DIR" "$HLOG"
    install_pkgs
    ensure_test_user
    write_config
    if (( CONFIG_CHANGED )) && { alive "$RUN_DIR/slurmctld.pid" || alive "$RUN_DIR/slurmd.pid"; }; then
        log "configuration changed: restarting the daemons this script started"
        stop_slurm
    fi
    start_munge
    start_slurmctld
    start_slurmd
    wait_idle
    if (( STARTED )); then warmup; fi
    echo "slurm-harness: ready in $(elapsed "$t0") s (proctrack/$PROCTRACK, KillWait=$KILL_WAIT, node $NODE, test user $TEST_USER)"
}

cmd_stop() {
    need_root
    local t0; t0=$(now)
    stop_slurm
    stop_pids munged=munged.pid
    echo "slurm-harness: stopped in $(elapsed "$t0") s"
}

cmd_status() {
    local rc=0 n
    for n in munged slurmctld slurmd; do
        if alive "$RUN_DIR/$n.pid"; then echo "$n: running (pid $(cat "$RUN_DIR/$n.pid"))"
        else echo "$n: not running (or not started by this script)"; rc=1; fi
    done
    # sinfo waits ~10 s for a controller that is not there: ask only when ours runs.
    if alive "$RUN_DIR/slurmctld.pid" && command -v sinfo >/dev/null; then sinfo 2>&1 || rc=1; fi
    return $rc
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
