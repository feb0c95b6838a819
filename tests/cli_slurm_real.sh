#!/usr/bin/env bash
# `ser cv --slurm` on a real Slurm (Debian's slurmctld, slurmd and munge), end to end: the test
# starts its own one-node cluster on this machine (its own temp folder: key, config, state and
# spool folders, logs; random ports, on the loopback of a network namespace of its own when
# unshare -n works; the node's address 127.0.0.1), writes the scripts for a
# 2-fold cv of a `ser synth` corpus, submits them with their submit.sh, requeues fold 1's task
# mid-fold (scontrol requeue) and checks that:
#   - every task ran, fold 1 twice: its first run trained, its second resumed from the
#     checkpoint (the task's log says both) and ended with a model byte-identical to the same
#     fold run here uninterrupted with the task's thread count (SLURM_CPUS_PER_TASK = 1);
#   - the summary job ran after the array (afterok) and wrote cv.json;
#   - `ser sweep --slurm` of two combinations: their arrays, their summaries, then the table job
#     (afterok on both summaries) wrote sweep.json with both rows finished.
# SKIPPED (exit 77) with the reason when the programs are missing, when not root (slurmd must
# run jobs as their user), or when the daemons do not start. The daemons (and any job left) are
# stopped on every exit. `scripts/install-deps.sh slurm` installs the packages. ~40 s.
set -u
: "${SER_BIN:?SER_BIN must point at the ser binary}"
# The cluster's ports on a loopback of its own: the test runs in a network namespace of its
# own (unshare -n, as root) when it can, so nothing else can reach them or collide with them.
# Without one, slurmd listens on 127.0.0.1 only and slurmctld on every address, a random port.
# (SER_SLURM_NO_NETNS=1: the host's network, as without unshare)
if [ -z "${SER_SLURM_NETNS:-}${SER_SLURM_NO_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
   command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  SER_SLURM_NETNS=1 exec unshare -n bash "$0" "$@"
fi
if [ -n "${SER_SLURM_NETNS:-}" ]; then
  # lo up, with a second address: getaddrinfo's AI_ADDRCONFIG (Slurm's bind) counts no
  # interface whose only IPv4 address is 127.0.0.1, and would find nothing to bind
  ip link set lo up 2>/dev/null
  ip addr add 127.0.0.2/8 dev lo 2>/dev/null
  netns="a network namespace of its own"
else
  netns="the host's network (no unshare -n here)"
fi
tmp=$(mktemp -d /tmp/ser_slurm_XXXXXX)
pids=()
stop() {
  if [ -n "${SLURM_CONF:-}" ] && [ -s "$tmp/conf/slurm.conf" ]; then
    timeout 5 scancel --full --quiet --user="$(id -un)" 2>/dev/null
    sleep 1
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap stop EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
pass=0
check() { if eval "$1"; then pass=$((pass + 1)); else bad "$2"; fi; }
skip() { echo "SKIPPED: $*"; exit 77; }
logs() { for f in "$tmp"/log/*.log; do echo "--- $f"; tail -15 "$f"; done; }

for prog in munged slurmctld slurmd sbatch scontrol squeue scancel; do
  command -v "$prog" >/dev/null || skip "$prog is not installed (scripts/install-deps.sh slurm)"
done
[ "$(id -u)" -eq 0 ] || skip "not root: slurmd must start jobs as their user"
[ ${#tmp} -lt 60 ] || skip "temp path too long for a socket: $tmp"

# ---- the cluster ------------------------------------------------------------------------------
mkdir -p "$tmp/conf" "$tmp/key" "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/run"
chmod 700 "$tmp/key"; chmod 755 "$tmp" "$tmp/munge"   # munged: the key private, its socket's folder open
dd if=/dev/urandom of="$tmp/key/munge.key" bs=1024 count=1 2>/dev/null && chmod 400 "$tmp/key/munge.key"
munged --force --socket="$tmp/munge/munge.sock" --key-file="$tmp/key/munge.key" \
  --pid-file="$tmp/run/munged.pid" --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge/munge.seed" \
  >"$tmp/log/munged.out" 2>&1 || skip "munged does not start: $(tail -3 "$tmp/log/munged.out" "$tmp/log/munged.log" 2>/dev/null)"
pids+=("$(cat "$tmp/run/munged.pid")")

# two free TCP ports (none listening on them now)
used=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
       while read -r h; do echo $((16#$h)); done)
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    echo "$used $ports" | tr ' ' '\n' | grep -qx "$p" || { echo "$p"; return; }
  done
}
ports=""; ctld_port=$(free_port); ports=$ctld_port; slurmd_port=$(free_port)
cpus=$(nproc --all 2>/dev/null || echo 2); [ "$cpus" -ge 2 ] && cpus=2
# in a namespace of its own every address is a loopback one; else slurmd binds 127.0.0.1 alone
comm=CommunicationParameters=NoInAddrAny
[ -n "${SER_SLURM_NETNS:-}" ] && comm=
cat >"$tmp/conf/slurm.conf" <<EOF
ClusterName=sertest
SlurmctldHost=$(hostname)(127.0.0.1)
MailProg=/bin/true
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
JobRequeue=1
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
$comm
NodeName=sernode NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=sertest Nodes=sernode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/conf/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N sernode -f "$SLURM_CONF" >"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
up=0
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ]; do
  state=$(timeout 2 scontrol show node sernode 2>/dev/null | grep -o 'State=[A-Z+]*' | head -1)
  case "$state" in State=IDLE*) up=1; break ;; esac
  sleep 0.2
done
[ $up -eq 1 ] || { logs; skip "slurmctld / slurmd did not bring the node up within 20 s (last: '${state:-no answer}')"; }
echo "cluster up: slurmctld port $ctld_port, slurmd port $slurmd_port, $cpus CPUs, in $netns"

# ---- the cv --------------------------------------------------------------------------------
"$SER_BIN" synth --out "$tmp/syn" --per-class 3 --speakers 4 --seed 3 >/dev/null || { bad "synth"; exit 1; }
epochs=60; [ -n "${SER_TEST_QUICK:-}" ] && epochs=20   # sanitizer builds: ~10x slower
sets=(--set model.filters=8 --set model.lstm_units=8 --set model.conv_blocks=2 --set features.frames=64
      --set train.batch_size=16 --set train.epochs=$epochs --set train.early_stopping_patience=0)
cv() { "$SER_BIN" cv --data "$tmp/syn" --folds 2 "${sets[@]}" "$@"; }
unset OMP_NUM_THREADS   # sbatch exports the environment: the tasks' threads come from Slurm
cv --out "$tmp/cv" --slurm --cpus 1 --time 10 >"$tmp/slurm.out" 2>"$tmp/slurm.err" || { bad "ser cv --slurm: $(cat "$tmp/slurm.err")"; exit 1; }
# the reference for fold 1, uninterrupted, with the task's thread count
OMP_NUM_THREADS=1 cv --out "$tmp/ref" --fold 1 >/dev/null 2>"$tmp/ref.err" || bad "reference fold: $(tail -2 "$tmp/ref.err")"

collect=$(cd "$tmp" && sh "$tmp/cv/slurm/submit.sh" 2>"$tmp/submit.err"); rc=$?
check '[ $rc -eq 0 ] && [ -n "$collect" ]' "submit.sh: rc $rc, $(cat "$tmp/submit.err")"
array=$(sed -n 's/.*folds: job \([0-9]*\) .*/\1/p' "$tmp/submit.err")
echo "submitted: array $array, summary $collect"

# requeue fold 1's task once it has checkpointed a few epochs, before it ends
hist=$tmp/cv/fold_1/history.jsonl
requeued=0
for _ in $(seq 1 1200); do
  n=$(cat "$hist" 2>/dev/null | wc -l)
  if [ "$n" -ge 3 ]; then
    if [ "$n" -lt "$epochs" ] && [ ! -e "$tmp/cv/fold_1/report.json" ]; then
      scontrol requeue "${array}_1" 2>"$tmp/requeue.err" && requeued=$n
    fi
    break
  fi
  sleep 0.05
done
check '[ "$requeued" -gt 0 ]' "fold 1 could not be requeued mid-fold (epochs seen: ${n:-0}; $(cat "$tmp/requeue.err" 2>/dev/null))"
echo "requeued fold 1 after $requeued of $epochs epochs"
# a requeued job waits for a begin time (Reason=BeginTime, ~2 minutes here): start it now
sleep 1
scontrol update JobId="${array}_1" StartTime=now >/dev/null 2>&1

# wait for the summary job to end (at most 100 s)
done_=0
for _ in $(seq 1 500); do
  st=$(scontrol show job "$collect" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1)
  case "$st" in
    JobState=COMPLETED) done_=1; break ;;
    JobState=FAILED|JobState=CANCELLED|JobState=TIMEOUT|JobState=NODE_FAIL) break ;;
  esac
  # the requeued task still waiting for its begin time: start it
  if scontrol show job "${array}_1" 2>/dev/null | grep -q 'Reason=BeginTime'; then
    scontrol update JobId="${array}_1" StartTime=now >/dev/null 2>&1
  fi
  sleep 0.2
done
check '[ $done_ -eq 1 ]' "the summary job did not complete: ${st:-no state}; $(squeue 2>&1 | tail -5)"
[ $done_ -eq 1 ] || logs

log1=$tmp/cv/slurm/fold_1.log
check 'grep -q "fold 1: training" "$log1" && grep -q "fold 1: resuming" "$log1"' "fold 1's task log lacks a first run and a resume: $(cat "$log1" 2>&1)"
check 'scontrol show job "${array}_1" 2>/dev/null | grep -q "Restarts=1"' "fold 1's task: $(scontrol show job "${array}_1" 2>&1 | grep -o 'Restarts=[0-9]*')"
check 'grep -q "fold 2: training" "$tmp/cv/slurm/fold_2.log" && grep -q "fold 2: done" "$tmp/cv/slurm/fold_2.log"' "fold 2's task: $(cat "$tmp/cv/slurm/fold_2.log" 2>&1)"
for k in 1 2; do
  check 'grep -q "^threads *= *1$" "$tmp/cv/fold_$k/config.ini"' "fold $k did not train with SLURM_CPUS_PER_TASK=1 threads"
done
check 'cmp -s "$tmp/ref/fold_1/model.safetensors" "$tmp/cv/fold_1/model.safetensors"' "the requeued fold's model differs from the uninterrupted fold's"
check '[ -s "$tmp/cv/cv.json" ] && grep -q "^mean +- sample std over 2 folds" "$tmp/cv/slurm/collect.log"' "the summary: $(cat "$tmp/cv/slurm/collect.log" 2>&1)"
# the summary ended after the last fold's task
last=$(stat -c %Y "$tmp/cv/fold_1/report.json" "$tmp/cv/fold_2/report.json" 2>/dev/null | sort -n | tail -1)
check '[ -n "$last" ] && [ "$(stat -c %Y "$tmp/cv/cv.json")" -ge "$last" ]' "cv.json is older than a fold's report"

# ---- a sweep on the same cluster: two combinations, their arrays and summaries, then the table ----
small=(--set model.filters=8 --set model.lstm_units=8 --set model.conv_blocks=2 --set features.frames=64
       --set train.batch_size=16 --set train.early_stopping_patience=0)
"$SER_BIN" sweep --out "$tmp/sw" --data "$tmp/syn" --folds 2 "${small[@]}" --grid train.epochs=1,2 --slurm --cpus 1 \
  >"$tmp/sw.out" 2>"$tmp/sw.err" || bad "ser sweep --slurm: $(cat "$tmp/sw.err")"
table=$(sh "$tmp/sw/slurm/submit.sh" 2>"$tmp/swsubmit.err"); rc=$?
check '[ $rc -eq 0 ] && [ -n "$table" ]' "the sweep's submit.sh: rc $rc, $(cat "$tmp/swsubmit.err")"
for _ in $(seq 1 400); do
  st=$(scontrol show job "$table" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1)
  case "$st" in JobState=COMPLETED|JobState=FAILED|JobState=CANCELLED|JobState=TIMEOUT) break ;; esac
  sleep 0.2
done
check '[ "$st" = JobState=COMPLETED ] && [ "$(grep -c "\"finished\":[[:space:]]*true" "$tmp/sw/sweep.json")" -eq 2 ]' \
  "the sweep's table job: ${st:-no state}; $(cat "$tmp/sw/slurm/collect.log" 2>&1 | tail -3)"
check 'grep -q "^| 1 | " "$tmp/sw/sweep.md" && grep -q "^| 2 | " "$tmp/sw/sweep.md"' "sweep.md: $(cat "$tmp/sw/sweep.md" 2>&1)"

echo "cli_slurm_real: $pass passed, $fail failed"
exit $fail
