#!/usr/bin/env bash
# `ser sweep` on `ser synth` audio (4 speakers, 2 folds, a tiny network):
#   - a 2 x 2 grid runs 4 cvs (--jobs 2); sweep.json's rows are every combination once, sorted
#     by the mean UA, each row's numbers those of its own cv.json / cv_cost.json, its command the
#     ser cv line with the row's --set values; sweep.md has the same rows in the same order;
#   - a row's command, run into another folder, gives the same cv.json (the exact command);
#   - a rerun runs nothing (no fold file touched); after one fold is deleted only that
#     combination runs again, and only that fold trains;
#   - --samples N draws N combinations, the same for the same --sample-seed, not for all seeds;
#   - --slurm writes each combination's scripts and a submit.sh that submits them and the table
#     job after their summary jobs (afterok), run here with a stand-in sbatch;
#   - bad grids fail naming the reason.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_sweep

"$SER_BIN" synth --out "$tmp/syn" --per-class 3 --speakers 4 --seed 3 >/dev/null || bad "synth failed"
sets=(--set model.lstm_units=8 --set model.conv_blocks=2 --set features.frames=64 --set train.batch_size=16
      --set train.threads=1)
grid=(--grid train.epochs=1,3 --grid model.filters=4,8)
sweep() { "$SER_BIN" sweep --data "$tmp/syn" --folds 2 "${sets[@]}" "$@"; }
# KEY's values in a JSON file, one per line, in order (cJSON prints "key":<tab>value)
jvals() { tr -d ' \t\n' <"$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2-; }
jstrs() { tr -d '\t\n' <"$1" | grep -o "\"$2\":[[:space:]]*\"[^\"]*\"" | sed 's/.*"\([^"]*\)"$/\1/'; }

sweep --out "$tmp/sw" "${grid[@]}" --jobs 2 >"$tmp/sw.out" 2>"$tmp/sw.err"; rc=$?
check '[ $rc -eq 0 ] && [ -s "$tmp/sw/sweep.json" ] && [ -s "$tmp/sw/sweep.md" ]' "sweep: rc $rc, $(tail -3 "$tmp/sw.err")"
names=$(jstrs "$tmp/sw/sweep.json" name)
check '[ "$(echo "$names" | sort | tr "\n" " ")" = "train.epochs=1,model.filters=4 train.epochs=1,model.filters=8 train.epochs=3,model.filters=4 train.epochs=3,model.filters=8 " ]' \
  "sweep.json's rows: $names"
# sorted by ua_mean, best first
uas=$(jvals "$tmp/sw/sweep.json" ua_mean)
check '[ "$(echo "$uas" | sort -g -r)" = "$uas" ] && [ "$(echo "$uas" | wc -l)" -eq 4 ]' "not sorted by UA mean: $uas"
# each row's numbers are its cv's; its command has its values
i=0 best_cmd= best=
for name in $names; do
  i=$((i + 1))
  ua=$(echo "$uas" | sed -n ${i}p)
  sd=$(jvals "$tmp/sw/sweep.json" ua_std | sed -n ${i}p)
  wall=$(jvals "$tmp/sw/sweep.json" wall_seconds | sed -n ${i}p)
  cv_ua=$(tr -d ' \t\n' <"$tmp/sw/$name/cv.json" | grep -o '"mean":{[^}]*' | grep -o '"uar":[^,}]*' | cut -d: -f2)
  cv_sd=$(tr -d ' \t\n' <"$tmp/sw/$name/cv.json" | grep -o '"std_dev":{[^}]*' | grep -o '"uar":[^,}]*' | cut -d: -f2)
  cv_wall=$(jvals "$tmp/sw/$name/cv_cost.json" wall_seconds)
  check '[ -n "$ua" ] && [ "$ua" = "$cv_ua" ] && [ "$sd" = "$cv_sd" ] && [ "$wall" = "$cv_wall" ]' \
    "row $i ($name): ua $ua std $sd wall $wall, its cv: $cv_ua $cv_sd $cv_wall"
  e=${name#train.epochs=}; e=${e%%,*}; f=${name##*filters=}
  cmd=$(tr -d '\n' <"$tmp/sw/sweep.json" | grep -o "\"name\":[[:space:]]*\"$name\"[^}]*" | grep -o '"command":[[:space:]]*"[^"]*' | sed 's/.*"//')
  check 'case "$cmd" in *" cv --data $tmp/syn --folds 2 "*"--set train.epochs=$e --set model.filters=$f --out $tmp/sw/$name") true ;; *) false ;; esac' \
    "row $i's command: $cmd"
  check 'grep -q "^| $i | $e | $f | $ua" "$tmp/sw/sweep.md" || grep -q "^| $i | $e | $f | $(printf %.4f "$ua")" "$tmp/sw/sweep.md"' "sweep.md row $i: $(grep "^| $i |" "$tmp/sw/sweep.md")"
  [ $i -eq 1 ] && best_cmd=$cmd best=$name
done
check 'grep -q "^| rank | train.epochs | model.filters | UA mean | UA std |" "$tmp/sw/sweep.md"' "sweep.md header: $(sed -n 7p "$tmp/sw/sweep.md")"

# the best row's command into another folder: the same cv.json
other=${best_cmd/--out $tmp\/sw\/$best/--out $tmp/again}
(cd / && eval "$other" >/dev/null 2>"$tmp/again.err") || bad "the row's command: $(tail -2 "$tmp/again.err")"
check 'cmp -s "$tmp/again/cv.json" "$tmp/sw/$best/cv.json"' "the best row's command gave another cv.json"

# resumable: a rerun runs nothing; a combination interrupted in its fold 2 (no fold 2, no cv.json)
# -> that combination alone runs again, and in it that fold alone
m1=$(find "$tmp/sw" -name model.safetensors -exec stat -c '%n %y' {} + | sort)
sleep 1
sweep --out "$tmp/sw" "${grid[@]}" >/dev/null 2>"$tmp/re.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(grep -c "finished earlier, kept" "$tmp/re.err")" -eq 4 ] && grep -q "0 to run" "$tmp/re.err"' "rerun: rc $rc, $(cat "$tmp/re.err")"
check '[ "$m1" = "$(find "$tmp/sw" -name model.safetensors -exec stat -c "%n %y" {} + | sort)" ]' "the rerun touched a model"
victim=train.epochs=3,model.filters=4
rm -rf "$tmp/sw/$victim/fold_2" "$tmp/sw/$victim/cv.json"
m2=$(stat -c %y "$tmp/sw/$victim/fold_1/model.safetensors")
sweep --out "$tmp/sw" "${grid[@]}" >/dev/null 2>"$tmp/re2.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(grep -c "finished earlier, kept" "$tmp/re2.err")" -eq 3 ] && grep -q "$victim: running" "$tmp/re2.err"' "after deleting a fold: rc $rc, $(cat "$tmp/re2.err")"
check '[ "$m2" = "$(stat -c %y "$tmp/sw/$victim/fold_1/model.safetensors")" ] && [ -s "$tmp/sw/$victim/fold_2/model.safetensors" ]' "fold 1 retrained or fold 2 not"
check 'grep -q "fold 1: finished earlier, kept" "$tmp/sw/$victim/sweep.log" && grep -q "fold 2: training" "$tmp/sw/$victim/sweep.log"' "$victim's log: $(tail -5 "$tmp/sw/$victim/sweep.log")"

# --samples: N of the grid, seeded
drawn() { sweep --out "$tmp/s$1" --grid train.epochs=1,2,3 --grid model.filters=4,8 --samples 2 --sample-seed "$2" --slurm >/dev/null 2>&1; jstrs "$tmp/s$1/sweep_plan.json" name | tr '\n' ' '; }
a=$(drawn a 7); b=$(drawn b 7)
check '[ "$(echo $a | wc -w)" -eq 2 ] && [ "$a" = "$b" ]' "--samples 2 --sample-seed 7 twice: '$a' / '$b'"
differs=0
for seed in 1 2 3 4 5 6; do [ "$(drawn "c$seed" $seed)" != "$a" ] && differs=1; done
check '[ $differs -eq 1 ]' "--sample-seed does not change the draw"

# --slurm: each combination's scripts, then the table job after their summary jobs
sweep --out "$tmp/sl" --grid train.epochs=1,2 --slurm --cpus 1 --partition short >"$tmp/sl.out" 2>"$tmp/sl.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(cat "$tmp/sl.out")" = "sh $tmp/sl/slurm/submit.sh" ]' "--slurm: rc $rc, $(cat "$tmp/sl.out" "$tmp/sl.err")"
for e in 1 2; do
  check 'grep -qx -- "#SBATCH --partition=short" "$tmp/sl/train.epochs=$e/slurm/folds.sbatch" && grep -q -- "--set train.epochs=$e --out $tmp/sl/train.epochs=$e --fold \"\$SLURM_ARRAY_TASK_ID\"" "$tmp/sl/train.epochs=$e/slurm/folds.sbatch"' \
    "combination $e's folds.sbatch: $(grep exec "$tmp/sl/train.epochs=$e/slurm/folds.sbatch" 2>&1)"
done
check 'grep -q " sweep --collect $tmp/sl$" "$tmp/sl/slurm/collect.sbatch" && grep -qx -- "#SBATCH --partition=short" "$tmp/sl/slurm/collect.sbatch"' "the table job: $(cat "$tmp/sl/slurm/collect.sbatch")"
mkdir -p "$tmp/bin"
cat >"$tmp/bin/sbatch" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/sbatch.calls"
echo "\$((100 + \$(wc -l <"$tmp/sbatch.calls")))"
EOF
chmod +x "$tmp/bin/sbatch"
id=$(PATH="$tmp/bin:$PATH" sh "$tmp/sl/slurm/submit.sh" 2>"$tmp/submit.err"); rc=$?
# calls: e1 folds (101), e1 summary (102, afterok:101), e2 folds (103), e2 summary (104), table after 102 and 104
check '[ $rc -eq 0 ] && [ "$id" = 105 ] && [ "$(sed -n 2p "$tmp/sbatch.calls")" = "--parsable --dependency=afterok:101 $tmp/sl/train.epochs=1/slurm/collect.sbatch" ] && [ "$(sed -n 5p "$tmp/sbatch.calls")" = "--parsable --dependency=afterok:102:104 $tmp/sl/slurm/collect.sbatch" ]' \
  "submit.sh: rc $rc, id '$id', calls: $(cat "$tmp/sbatch.calls")"
# --collect before anything ran: every row unfinished, still a table
"$SER_BIN" sweep --collect "$tmp/sl" >/dev/null 2>"$tmp/col.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "2 combinations not finished" "$tmp/col.err" && grep -q "^| - | 1 |" "$tmp/sl/sweep.md"' "--collect of unrun combinations: rc $rc, $(cat "$tmp/col.err")"

# ---- bad input ----------------------------------------------------------------------------------
sweep --out "$tmp/bad" --grid train.nope=1,2 >/dev/null 2>"$tmp/e1"; rc=$?
check '[ $rc -eq 2 ] && grep -q "grid train.nope=1,2: .*train.nope" "$tmp/e1"' "unknown key: rc $rc, $(cat "$tmp/e1")"
sweep --out "$tmp/bad" --grid train.epochs= >/dev/null 2>"$tmp/e2"; rc=$?
check '[ $rc -eq 2 ] && grep -q "expected KEY=V1,V2" "$tmp/e2"' "no values: rc $rc, $(cat "$tmp/e2")"
sweep --out "$tmp/bad" --grid train.epochs=1 --grid train.epochs=2 >/dev/null 2>"$tmp/e3"; rc=$?
check '[ $rc -eq 2 ] && grep -q "given twice" "$tmp/e3"' "a key twice: rc $rc, $(cat "$tmp/e3")"
sweep --out "$tmp/bad" --grid train.epochs=1 --fold 1 >/dev/null 2>"$tmp/e4"; rc=$?
check '[ $rc -eq 2 ] && grep -q "fold" "$tmp/e4"' "--fold: rc $rc, $(cat "$tmp/e4")"
"$SER_BIN" sweep --collect "$tmp/syn" >/dev/null 2>"$tmp/e5"; rc=$?
check '[ $rc -eq 1 ] && grep -q "not a ser sweep folder" "$tmp/e5"' "--collect of a non-sweep: rc $rc, $(cat "$tmp/e5")"
"$SER_BIN" --help | grep -q "^  sweep " || bad "ser --help lacks sweep"

echo "cli_sweep: $pass passed, $fail failed"
exit $fail
