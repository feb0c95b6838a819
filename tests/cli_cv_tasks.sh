#!/usr/bin/env bash
# `ser cv` as tasks of a scheduler (docs/cluster.md), on `ser synth` audio:
#   - --print-commands prints `ser cv ... --fold K` lines, with no thread count in them; each
#     line takes its threads from the task: OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else the
#     CPU affinity (taskset), recorded as train.threads in the fold's config.ini;
#   - a line is idempotent: run again on a finished fold it keeps it (files untouched); killed
#     mid-fold with its whole process group (as Slurm stops a requeued task) and run again, it
#     resumes and ends with a model byte-identical to an uninterrupted fold's;
#   - --jobs 2 splits the task's threads between its folds; --only-folds trains and summarises a
#     subset of the folds (its lines, its array); --seeds trains every fold once per seed on the
#     same manifests, summarises over seeds and folds (recomputed here), one line / array task
#     per (seed, fold), array task 3 = the second seed's fold 1;
#   - each attempt's wall and CPU time lands in fold_N/cv_cost.json, and --collect sums them into
#     OUT/cv_cost.json;
#   - --slurm writes folds.sbatch (an array of the same lines, the options users set as #SBATCH
#     lines), collect.sbatch and submit.sh (afterok on the array), run here with a stand-in
#     sbatch that records its arguments, and the array's script run by hand for each task id.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_cv_tasks

"$SER_BIN" synth --out "$tmp/syn" --per-class 3 --speakers 4 --seed 3 >/dev/null || bad "synth failed"
sets=(--set model.filters=8 --set model.lstm_units=8 --set model.conv_blocks=2 --set features.frames=64
      --set train.batch_size=16 --set train.epochs=2)
cv() { "$SER_BIN" cv --data "$tmp/syn" --folds 2 "${sets[@]}" "$@"; }
threads_of() { sed -n 's/^threads *= *//p' "$1/config.ini"; }

# ---- the printed lines and their threads ------------------------------------------------------
cv --out "$tmp/pc" --print-commands >"$tmp/pc.cmds" 2>"$tmp/pc.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/pc.cmds")" -eq 2 ]' "--print-commands: rc $rc, $(cat "$tmp/pc.err")"
check 'grep -q " cv --data $tmp/syn --folds 2 .* --out $tmp/pc --fold 1$" "$tmp/pc.cmds" && grep -q -- "--fold 2$" "$tmp/pc.cmds"' \
  "printed lines: $(cat "$tmp/pc.cmds")"
check '! grep -q "threads" "$tmp/pc.cmds"' "a printed line names a thread count: $(head -1 "$tmp/pc.cmds")"
line1=$(sed -n 1p "$tmp/pc.cmds"); line2=$(sed -n 2p "$tmp/pc.cmds")
(cd / && env -u SLURM_CPUS_PER_TASK OMP_NUM_THREADS=3 bash -c "$line1" >/dev/null 2>"$tmp/l1.err") || bad "line 1: $(tail -2 "$tmp/l1.err")"
check '[ "$(threads_of "$tmp/pc/fold_1")" = 3 ]' "OMP_NUM_THREADS=3: fold 1 trained with $(threads_of "$tmp/pc/fold_1") threads"
(cd / && env -u OMP_NUM_THREADS SLURM_CPUS_PER_TASK=2 bash -c "$line2" >/dev/null 2>"$tmp/l2.err") || bad "line 2: $(tail -2 "$tmp/l2.err")"
check '[ "$(threads_of "$tmp/pc/fold_2")" = 2 ]' "SLURM_CPUS_PER_TASK=2: fold 2 trained with $(threads_of "$tmp/pc/fold_2") threads"
check 'grep -q "from SLURM_CPUS_PER_TASK" "$tmp/l2.err"' "the source of the thread count is not said: $(cat "$tmp/l2.err")"
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
  rm -rf "$tmp/pc/fold_2"
  (cd / && env -u OMP_NUM_THREADS -u SLURM_CPUS_PER_TASK taskset -c 0 bash -c "$line2" >/dev/null 2>"$tmp/l3.err") || bad "line 2 under taskset: $(tail -2 "$tmp/l3.err")"
  check '[ "$(threads_of "$tmp/pc/fold_2")" = 1 ]' "taskset -c 0: fold 2 trained with $(threads_of "$tmp/pc/fold_2") threads"
else
  echo "NOTE: taskset missing or not permitted: the affinity count was not checked"
fi

# ---- idempotent: a finished fold is kept -------------------------------------------------------
m1=$(stat -c %y "$tmp/pc/fold_1/model.safetensors" "$tmp/pc/fold_1/report.json" "$tmp/pc/fold_1/config.ini")
sleep 1
(cd / && bash -c "$line1" >/dev/null 2>"$tmp/again.err"); rc=$?
check '[ $rc -eq 0 ] && grep -q "fold 1: finished earlier, kept" "$tmp/again.err"' "a finished fold's line again: rc $rc, $(cat "$tmp/again.err")"
check '[ "$m1" = "$(stat -c %y "$tmp/pc/fold_1/model.safetensors" "$tmp/pc/fold_1/report.json" "$tmp/pc/fold_1/config.ini")" ]' "the finished fold 1 was touched"
check 'grep -q "\"attempts\":[[:space:]]*1" "$tmp/pc/fold_1/cv_cost.json"' "fold 1's cost record: $(cat "$tmp/pc/fold_1/cv_cost.json" 2>&1)"
"$SER_BIN" cv --collect "$tmp/pc" >/dev/null 2>"$tmp/col.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"folds_measured\":[[:space:]]*2" "$tmp/pc/cv_cost.json"' "--collect: rc $rc, cv_cost.json: $(cat "$tmp/pc/cv_cost.json" 2>&1)"
wall=$(tr -d ' \t\n' <"$tmp/pc/cv_cost.json" | grep -o '"wall_seconds":[0-9.e+-]*' | cut -d: -f2)
check 'awk -v w="$wall" "BEGIN { exit !(w > 0 && w < 600) }"' "cv_cost.json wall_seconds '$wall'"

# ---- killed mid-fold (the whole process group, as a requeue does), then the same line ---------
long=(--set train.epochs=30 --set train.early_stopping_patience=0)
OMP_NUM_THREADS=1 cv "${long[@]}" --out "$tmp/ref" --fold 1 >/dev/null 2>"$tmp/ref.err" || bad "reference fold: $(tail -2 "$tmp/ref.err")"
OMP_NUM_THREADS=1 cv "${long[@]}" --out "$tmp/kill" --print-commands >"$tmp/kill.cmds" 2>/dev/null || bad "kill: print"
kline=$(sed -n 1p "$tmp/kill.cmds")
killed=0
for attempt in 1 2 3; do
  OMP_NUM_THREADS=1 setsid bash -c "exec $kline" >/dev/null 2>&1 &
  pid=$!
  # once the fold has checkpointed 3 epochs (and before it ends), stop the whole group
  for _ in $(seq 1 500); do
    n=$(cat "$tmp/kill/fold_1/history.jsonl" 2>/dev/null | wc -l)
    [ "$n" -ge 3 ] && break
    sleep 0.01
  done
  kill -9 -- -"$pid" 2>/dev/null && killed=1
  wait "$pid" 2>/dev/null
  [ ! -s "$tmp/kill/fold_1/report.json" ] && break
  rm -rf "$tmp/kill/fold_1"; killed=0   # it ended before the kill: again
done
check '[ $killed -eq 1 ] && [ ! -e "$tmp/kill/fold_1/report.json" ] && [ -s "$tmp/kill/fold_1/checkpoint.safetensors" ]' \
  "the fold could not be killed mid-run ($(wc -l <"$tmp/kill/fold_1/history.jsonl" 2>/dev/null) epochs)"
echo "killed after $(wc -l <"$tmp/kill/fold_1/history.jsonl") of 30 epochs"
(cd / && OMP_NUM_THREADS=1 bash -c "$kline" >/dev/null 2>"$tmp/resume.err"); rc=$?
check '[ $rc -eq 0 ] && grep -q "fold 1: resuming" "$tmp/resume.err"' "the line after the kill: rc $rc, $(cat "$tmp/resume.err")"
check 'cmp -s "$tmp/ref/fold_1/model.safetensors" "$tmp/kill/fold_1/model.safetensors"' "the resumed fold's model differs from the uninterrupted fold's"
check '[ "$(sed "s/,\"seconds\":[^}]*//" "$tmp/ref/fold_1/history.jsonl")" = "$(sed "s/,\"seconds\":[^}]*//" "$tmp/kill/fold_1/history.jsonl")" ]' "the resumed fold's history differs"

# ---- --jobs 2: the task's threads split between the folds ---------------------------------------
OMP_NUM_THREADS=4 cv --out "$tmp/j2" --jobs 2 >/dev/null 2>"$tmp/j2.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(threads_of "$tmp/j2/fold_1")" = 2 ] && [ "$(threads_of "$tmp/j2/fold_2")" = 2 ]' \
  "--jobs 2 under OMP_NUM_THREADS=4: rc $rc, threads $(threads_of "$tmp/j2/fold_1") $(threads_of "$tmp/j2/fold_2")"
check '[ -s "$tmp/j2/cv.json" ] && grep -q "\"folds_measured\":[[:space:]]*2" "$tmp/j2/cv_cost.json"' "--jobs 2: no cv.json / cv_cost.json"

# ---- --slurm --------------------------------------------------------------------------------
cv --out "$tmp/sl" --slurm --partition short --time 0:20:00 --cpus 3 --gpus 1 --account lab7 --mem 4G \
   --sbatch --qos=low >"$tmp/sl.out" 2>"$tmp/sl.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(cat "$tmp/sl.out")" = "sh $tmp/sl/slurm/submit.sh" ]' "--slurm: rc $rc, $(cat "$tmp/sl.out" "$tmp/sl.err")"
f=$tmp/sl/slurm/folds.sbatch
for want in "--array=1-2" "--cpus-per-task=3" "--gres=gpu:1" "--partition=short" "--time=0:20:00" "--account=lab7" \
            "--mem=4G" "--qos=low" "--requeue" "--open-mode=append" "--output=$tmp/sl/slurm/fold_%a.log"; do
  check 'grep -qx -- "#SBATCH $want" "$f"' "folds.sbatch lacks #SBATCH $want"
done
cv --out "$tmp/sl" --print-commands 2>/dev/null | sed -n 1p | sed 's/ --fold 1$//' >"$tmp/sl.line"
check '[ "$(grep "^exec " "$f")" = "exec $(cat "$tmp/sl.line") --fold \"\$SLURM_ARRAY_TASK_ID\"" ]' \
  "the array's line is not the printed line: $(grep "^exec " "$f")"
c=$tmp/sl/slurm/collect.sbatch
check 'grep -qx "exec $SER_BIN cv --collect $tmp/sl" "$c" || grep -qx "exec $(readlink -f "$SER_BIN") cv --collect $tmp/sl" "$c"' "collect.sbatch: $(grep exec "$c")"
check 'grep -qx -- "#SBATCH --partition=short" "$c" && ! grep -q -- "--gres" "$c" && ! grep -q -- "--array" "$c"' "collect.sbatch's options: $(grep SBATCH "$c")"
# submit.sh with a stand-in sbatch: the array first, then the summary after it (afterok)
mkdir -p "$tmp/bin"
cat >"$tmp/bin/sbatch" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/sbatch.calls"
n=\$(wc -l <"$tmp/sbatch.calls")
echo "\$((4000 + n));cluster1"
EOF
chmod +x "$tmp/bin/sbatch"
id=$(PATH="$tmp/bin:$PATH" sh "$tmp/sl/slurm/submit.sh" 2>"$tmp/submit.err"); rc=$?
check '[ $rc -eq 0 ] && [ "$id" = 4002 ]' "submit.sh: rc $rc, printed '$id', $(cat "$tmp/submit.err")"
check '[ "$(sed -n 1p "$tmp/sbatch.calls")" = "--parsable $f" ] && [ "$(sed -n 2p "$tmp/sbatch.calls")" = "--parsable --dependency=afterok:4001 $c" ]' \
  "sbatch calls: $(cat "$tmp/sbatch.calls")"
# the array's script as Slurm would run each task (SLURM_ARRAY_TASK_ID, SLURM_CPUS_PER_TASK), then the summary
for k in 1 2; do
  (cd / && env -u OMP_NUM_THREADS SLURM_ARRAY_TASK_ID=$k SLURM_CPUS_PER_TASK=3 bash "$f" >/dev/null 2>"$tmp/task$k.err") || bad "task $k: $(tail -2 "$tmp/task$k.err")"
  check '[ "$(threads_of "$tmp/sl/fold_$k")" = 3 ]' "task $k: $(threads_of "$tmp/sl/fold_$k") threads, not SLURM_CPUS_PER_TASK=3"
done
(cd / && bash "$c" >/dev/null 2>"$tmp/c.err") || bad "collect.sbatch: $(tail -2 "$tmp/c.err")"
check '[ -s "$tmp/sl/cv.json" ] && [ -s "$tmp/sl/cv_cost.json" ]' "collect.sbatch wrote no cv.json"

# ---- --only-folds: a subset of the folds, trained and summarised --------------------------------
cv --out "$tmp/o2" --only-folds 2 >"$tmp/o2.out" 2>"$tmp/o2.err"; rc=$?
check '[ $rc -eq 0 ] && [ ! -e "$tmp/o2/fold_1" ] && [ -s "$tmp/o2/fold_2/report.json" ]' "--only-folds 2: rc $rc, $(tail -2 "$tmp/o2.err")"
check '[ "$(tr -d " \t\n" <"$tmp/o2/cv.json" | grep -o "\"folds\":[0-9]*")" = "\"folds\":1" ] && tr -d " \t\n" <"$tmp/o2/cv.json" | grep -q "\"fold\":2,\"run\":\"fold_2\""' \
  "--only-folds 2: cv.json $(head -c 300 "$tmp/o2/cv.json")"
check 'grep -q "^2 " "$tmp/o2.out"' "--only-folds 2: the table names fold 2: $(cat "$tmp/o2.out")"
cp "$tmp/o2/cv.json" "$tmp/o2.json"
"$SER_BIN" cv --collect "$tmp/o2" >/dev/null 2>&1 && check 'cmp -s "$tmp/o2.json" "$tmp/o2/cv.json"' "--collect of an --only-folds run: another cv.json"
cv --out "$tmp/o2p" --only-folds 2 --print-commands >"$tmp/o2p.cmds" 2>/dev/null
check '[ "$(wc -l <"$tmp/o2p.cmds")" -eq 1 ] && grep -q -- "--fold 2$" "$tmp/o2p.cmds" && ! grep -q -- "--only-folds" "$tmp/o2p.cmds"' "--only-folds 2 --print-commands: $(cat "$tmp/o2p.cmds")"
cv --out "$tmp/o2s" --only-folds 2 --slurm >/dev/null 2>&1
check 'grep -qx -- "#SBATCH --array=2" "$tmp/o2s/slurm/folds.sbatch"' "--only-folds 2 --slurm: $(grep array= "$tmp/o2s/slurm/folds.sbatch" 2>&1)"

# ---- --seeds: every fold once per train.seed, the same manifests, a summary over both ------------
OMP_NUM_THREADS=1 cv --out "$tmp/sd" --seeds 3,1 >"$tmp/sd.out" 2>"$tmp/sd.err"; rc=$?
check '[ $rc -eq 0 ] && [ -s "$tmp/sd/cv.json" ] && [ -s "$tmp/sd/seed_1/cv.json" ] && [ -s "$tmp/sd/seed_3/cv.json" ]' "--seeds 3,1: rc $rc, $(tail -3 "$tmp/sd.err")"
for sd in 1 3; do for k in 1 2; do
  r=$tmp/sd/seed_$sd/fold_$k
  check '[ "$(sed -n "s/^seed *= *//p" "$r/config.ini")" = $sd ] && cmp -s "$r/test.tsv" "$tmp/sd/fold_$k/cv_test.tsv" && cmp -s "$r/train.tsv" "$tmp/sd/fold_$k/cv_train.tsv"' \
    "seed $sd fold $k: not train.seed $sd on fold $k's manifests"
done; done
check '! cmp -s "$tmp/sd/seed_1/fold_1/model.safetensors" "$tmp/sd/seed_3/fold_1/model.safetensors"' "seeds 1 and 3 trained the same model"
# cv.json: the mean over the 4 runs, the std over the folds of the seed-averaged fold UA, the std of the seeds' means
rep() { tr -d ' \t\n' <"$1" | sed 's/.*"test":{//' | grep -o "\"$2\":[^,}]*" | head -1 | cut -d: -f2; }
u11=$(rep "$tmp/sd/seed_1/fold_1/report.json" uar); u12=$(rep "$tmp/sd/seed_1/fold_2/report.json" uar)
u31=$(rep "$tmp/sd/seed_3/fold_1/report.json" uar); u32=$(rep "$tmp/sd/seed_3/fold_2/report.json" uar)
cvj() { tr -d ' \t\n' <"$tmp/sd/cv.json" | sed 's/.*"per_seed"//' | grep -o "\"$1\":{[^}]*" | tail -1 | grep -o '"uar":[^,}]*' | cut -d: -f2; }
m=$(cvj mean); sdv=$(cvj std_dev); ssd=$(cvj seed_std_dev)
check 'awk -v a="$u11" -v b="$u12" -v c="$u31" -v d="$u32" -v m="$m" -v s="$sdv" -v t="$ssd" "BEGIN {
    mu = (a + b + c + d) / 4; f1 = (a + c) / 2; f2 = (b + d) / 2; s1 = (a + b) / 2; s3 = (c + d) / 2;
    sd = sqrt((f1 - mu)^2 + (f2 - mu)^2); ss = sqrt((s1 - mu)^2 + (s3 - mu)^2);
    exit !(m != \"\" && (m - mu)^2 <= 1e-24 && (s - sd)^2 <= 1e-24 && (t - ss)^2 <= 1e-24) }"' \
  "--seeds cv.json: mean $m std $sdv seed std $ssd from runs $u11 $u12 $u31 $u32"
cv --out "$tmp/sd" --seeds 1,3 --print-commands >"$tmp/sd.cmds" 2>/dev/null
check '[ "$(wc -l <"$tmp/sd.cmds")" -eq 4 ] && [ "$(sed -n 3p "$tmp/sd.cmds" | grep -o -- "--seeds 1,3 .*--seed 3 --fold 1$")" != "" ]' "--seeds --print-commands: $(cat "$tmp/sd.cmds")"
(cd / && bash -c "$(sed -n 3p "$tmp/sd.cmds")" >/dev/null 2>"$tmp/sd3.err"); rc=$?
check '[ $rc -eq 0 ] && grep -q "seed 3 fold 1: finished earlier, kept" "$tmp/sd3.err"' "a finished seed's line: rc $rc, $(cat "$tmp/sd3.err")"
# the array: 4 tasks; task 3 is seed 3's fold 1
cv --out "$tmp/sds" --seeds 1,3 --slurm >/dev/null 2>"$tmp/sds.err" || bad "--seeds --slurm: $(cat "$tmp/sds.err")"
check 'grep -qx -- "#SBATCH --array=1-4" "$tmp/sds/slurm/folds.sbatch"' "--seeds --slurm: $(grep array= "$tmp/sds/slurm/folds.sbatch")"
(cd / && env -u OMP_NUM_THREADS SLURM_ARRAY_TASK_ID=3 SLURM_CPUS_PER_TASK=1 bash "$tmp/sds/slurm/folds.sbatch" >/dev/null 2>"$tmp/sdt.err") || bad "task 3: $(tail -2 "$tmp/sdt.err")"
check '[ -s "$tmp/sds/seed_3/fold_1/report.json" ] && [ ! -e "$tmp/sds/seed_1/fold_1/config.ini" ] && [ ! -e "$tmp/sds/seed_3/fold_2/config.ini" ]' \
  "task 3 did not run seed 3's fold 1 alone: $(cat "$tmp/sdt.err")"
check 'cmp -s "$tmp/sds/seed_3/fold_1/model.safetensors" "$tmp/sd/seed_3/fold_1/model.safetensors"' "task 3's model differs from --seeds' seed 3 fold 1"

# ---- bad input ----------------------------------------------------------------------------------
cv --out "$tmp/pc" --fold 3 >/dev/null 2>"$tmp/e1"; rc=$?
check '[ $rc -eq 1 ] && grep -q "fold 3: there are 2 folds" "$tmp/e1"' "--fold 3 of 2: rc $rc, $(cat "$tmp/e1")"
cv --out "$tmp/pc" --fold 1 --jobs 2 >/dev/null 2>"$tmp/e2"; rc=$?
check '[ $rc -eq 2 ] && grep -q "exclude each other" "$tmp/e2"' "--fold with --jobs: rc $rc, $(cat "$tmp/e2")"
cv --out "$tmp/pc" --partition x >/dev/null 2>"$tmp/e3"; rc=$?
check '[ $rc -eq 2 ] && grep -q "need --slurm" "$tmp/e3"' "--partition without --slurm: rc $rc, $(cat "$tmp/e3")"
cv --out "$tmp/sl" --slurm --time "1 day" >/dev/null 2>"$tmp/e4"; rc=$?
check '[ $rc -eq 2 ] && grep -q "one word" "$tmp/e4"' "--time with a space: rc $rc, $(cat "$tmp/e4")"
cv --out "$tmp/pc" --only-folds 1,3 >/dev/null 2>"$tmp/e5"; rc=$?
check '[ $rc -eq 1 ] && grep -q "only-folds 3: there are 2 folds" "$tmp/e5"' "--only-folds 1,3 of 2: rc $rc, $(cat "$tmp/e5")"
cv --out "$tmp/pc" --fold 1 --seed 2 >/dev/null 2>"$tmp/e7"; rc=$?
check '[ $rc -eq 2 ] && grep -q "seed S goes with --fold K and --seeds" "$tmp/e7"' "--seed without --seeds: rc $rc, $(cat "$tmp/e7")"
cv --out "$tmp/sd" --seeds 1,3 --fold 1 --seed 2 >/dev/null 2>"$tmp/e8"; rc=$?
check '[ $rc -eq 2 ] && grep -q "must be one of --seeds" "$tmp/e8"' "--seed not in --seeds: rc $rc, $(cat "$tmp/e8")"
cv --out "$tmp/pc" --only-folds 1,1 >/dev/null 2>"$tmp/e6"; rc=$?
check '[ $rc -eq 2 ] && grep -q "only-folds .1,1.: 1 twice" "$tmp/e6"' "--only-folds 1,1: rc $rc, $(cat "$tmp/e6")"

echo "cli_cv_tasks: $pass passed, $fail failed"
exit $fail
