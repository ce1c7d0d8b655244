#!/usr/bin/env bash
# A real Slurm job array running a sharded `raas sweep`, checked against the
# same sweep run locally: every array task's shard CSV must exist, and
# `raas merge` of them must equal the unsharded sweep.csv byte for byte.
#
# Brings up a one-machine cluster (munged, slurmctld, slurmd on localhost)
# from Debian's packages, as /work/shared/PLATFORM.md describes, and stops
# the daemons it started (by their pid files) on every exit path.
#
# Exit 0: the CSVs match; or Slurm/munge could not be installed (printed as
# SKIPPED). Any other failure (daemons not starting, a failed or silently
# dropped task, a mismatch) exits non-zero.
#
# Usage: .ci/slurm-sweep.sh [SWEEP.toml]   (run as root; RAAS=path/to/raas)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
skip() {
  printf '\n**********************************************************\n'
  printf 'SKIPPED: %s\n' "$*"
  printf 'The Slurm job-array sweep was NOT checked.\n'
  printf '**********************************************************\n'
  exit 0
}

started=$(date +%s)
sweep=${1:-scenarios/sweeps/loss-x-gossip-cost.toml}
shards=2
raas=${RAAS:-target/release/raas}

step "raas release binary"
if [ ! -x "$raas" ]; then
  cargo build --release -p sim --bin raas
fi
raas=$(realpath "$raas")
sweep=$(realpath "$sweep")
"$raas" --version

step "install slurm-wlm and munge"
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    skip "slurm-wlm/munge are not installed and cannot be (needs root and apt-get)"
  fi
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends slurm-wlm munge; } \
       >/tmp/raas-slurm-install.log 2>&1; then
    tail -n 5 /tmp/raas-slurm-install.log
    skip "apt-get could not install slurm-wlm munge (log: /tmp/raas-slurm-install.log)"
  fi
fi
[ "$(id -u)" -eq 0 ] || fail "starting the daemons needs root"
slurmctld -V

work=$(mktemp -d /var/tmp/raas-slurm.XXXXXX)
chmod 755 "$work"
out="$work/out"
local_out="$work/local"
mkdir -p "$out" "$work/state" "$work/spool" "$work/logs"
munge_pid=""   # pid file of a munged we started
job_id=""

cleanup() {
  local code=$?
  set +e
  if [ -n "$job_id" ]; then scancel "$job_id" 2>/dev/null; fi
  for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid" $munge_pid; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
  done
  if [ "$code" -ne 0 ]; then
    echo "--- slurmctld.log (tail)"; tail -n 20 "$work/slurmctld.log" 2>/dev/null
    echo "--- slurmd.log (tail)"; tail -n 20 "$work/slurmd.log" 2>/dev/null
    echo "--- task logs"; tail -n 20 "$work"/logs/* 2>/dev/null
    echo "(kept $work)"
  else
    rm -rf "$work"
  fi
  echo "slurm-sweep: $(( $(date +%s) - started )) s, exit $code"
}
trap cleanup EXIT

step "start munged"
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  echo "munged already running: using it (and leaving it running)"
else
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  munge_pid=/run/munge/munged.pid
  for _ in $(seq 50); do [ -s "$munge_pid" ] && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || fail "munge credentials do not round-trip"
fi
echo "munge ok"

step "configure slurm (localhost, proctrack/linuxproc, task/none)"
if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
  fail "a slurmctld or slurmd is already running on this machine; not touching it"
fi
slurm_user=slurm
id "$slurm_user" >/dev/null 2>&1 || slurm_user=root
chown "$slurm_user" "$work/state"
hw=$(slurmd -C | head -n 1)
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
[ -n "$cpus" ] && [ -n "$memory" ] || fail "cannot read CPUs/RealMemory from: $hw"
memory=$(( memory * 95 / 100 ))
conf="$work/slurm.conf"
cat >"$conf" <<EOF
ClusterName=raas-ci
SlurmctldHost=localhost
SlurmUser=$slurm_user
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
chmod 644 "$conf"
export SLURM_CONF="$conf"
echo "CPUs=$cpus RealMemory=$memory (95% of slurmd -C), SlurmUser=$slurm_user"

step "start slurmctld and slurmd"
slurmctld -f "$conf"
slurmd -f "$conf" -N localhost
state=""
for _ in $(seq 100); do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "node localhost is '${state:-unknown}', not idle, after 20 s"
sinfo

step "sbatch --wait --array=0-$((shards - 1)): raas sweep --shard \$SLURM_ARRAY_TASK_ID/\$SLURM_ARRAY_TASK_COUNT"
cat >"$work/job.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
echo "task \$SLURM_ARRAY_TASK_ID of \$SLURM_ARRAY_TASK_COUNT on \$(hostname)"
exec "$raas" sweep "$sweep" --out "$out" --jobs 1 --quiet \\
  --shard "\$SLURM_ARRAY_TASK_ID/\$SLURM_ARRAY_TASK_COUNT"
EOF
chmod 755 "$work/job.sh"
submitted=$(date +%s)
submit_log="$work/sbatch.out"
if ! timeout 900 sbatch --wait --parsable --array=0-$((shards - 1)) --cpus-per-task=1 \
    --chdir="$work" --output="$work/logs/task-%a.log" --job-name=raas-sweep \
    "$work/job.sh" >"$submit_log"; then
  cat "$submit_log"
  fail "the array job failed (sbatch --wait exited non-zero)"
fi
job_id=$(head -n 1 "$submit_log" | cut -d';' -f1)
echo "job $job_id done in $(( $(date +%s) - submitted )) s"
job_id=""

step "every task wrote its shard CSV (exit codes alone do not show a dropped task)"
csvs=()
for i in $(seq 0 $((shards - 1))); do
  csv="$out/sweep-shard-$i-of-$shards.csv"
  [ -s "$csv" ] || fail "task $i wrote no $csv (see $work/logs/task-$i.log)"
  echo "$csv: $(( $(wc -l <"$csv") - 1 )) runs"
  csvs+=("$csv")
done

step "raas merge"
"$raas" merge "$work/merged.csv" "${csvs[@]}"

step "the same sweep locally, unsharded"
"$raas" sweep "$sweep" --out "$local_out" --quiet

step "cmp merged shards against the unsharded sweep.csv"
cmp "$work/merged.csv" "$local_out/sweep.csv" || fail "merged shards differ from the unsharded sweep"
echo "identical: $(( $(wc -l <"$work/merged.csv") - 1 )) runs"
