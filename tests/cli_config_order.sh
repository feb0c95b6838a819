#!/usr/bin/env bash
# --config and --set apply in one order in every command that builds a config: the defaults, then
# the --config file, then each --set in the order given, wherever the options stand on the line
# (host/cli/config_args.c). ser bench-epoch once applied them in argument order, so a --config
# after a --set undid it; ser check shares the parser.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_config_order
small=(--set model.conv_blocks=2 --set model.filters=16 --set features.frames=32)
printf '[train]\nbatch_size = 6\n' >"$tmp/b6.ini"

batch_of() { sed -n 's/.*"batch": \([0-9]*\).*/\1/p' "$1"; }

# --set before --config: the --set still wins
"$SER_BIN" bench-epoch "${small[@]}" --set train.batch_size=4 --config "$tmp/b6.ini" --train 8 --val 0 --warmup 0 \
  >"$tmp/a.json" 2>"$tmp/a.err"; rc=$?
check '[ $rc -eq 0 ]' "bench-epoch --set then --config: exit $rc: $(cat "$tmp/a.err")"
check '[ "$(batch_of "$tmp/a.json")" = 4 ]' "bench-epoch --set train.batch_size=4 --config (batch_size = 6): batch $(batch_of "$tmp/a.json"), expected 4"

# --config alone, and --config then --set: the same results as any other command gives
"$SER_BIN" bench-epoch "${small[@]}" --config "$tmp/b6.ini" --train 8 --val 0 --warmup 0 >"$tmp/b.json" 2>"$tmp/b.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(batch_of "$tmp/b.json")" = 6 ]' "bench-epoch --config: exit $rc, batch $(batch_of "$tmp/b.json"), expected 6"
"$SER_BIN" bench-epoch --config "$tmp/b6.ini" "${small[@]}" --set train.batch_size=5 --set train.batch_size=3 --train 8 \
  --val 0 --warmup 0 >"$tmp/c.json" 2>"$tmp/c.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(batch_of "$tmp/c.json")" = 3 ]' "bench-epoch: the last --set wins: exit $rc, batch $(batch_of "$tmp/c.json"), expected 3"

# a missing value is a usage error naming the option
"$SER_BIN" bench-epoch --set >/dev/null 2>"$tmp/d.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--set needs a value" "$tmp/d.err"' "bench-epoch --set without a value: exit $rc: $(cat "$tmp/d.err")"

# ser check: --set before --config applies after it too (the model line names the filters)
printf '[model]\nfilters = 8\n' >"$tmp/f8.ini"
"$SER_BIN" check --against cpu --set model.filters=16 --config "$tmp/f8.ini" --set model.conv_blocks=2 \
  --set features.frames=32 --batch 4 --steps 1 >"$tmp/e.out" 2>"$tmp/e.err"; rc=$?
check '[ $rc -eq 0 ]' "check --set then --config: exit $rc: $(cat "$tmp/e.err")"
check 'grep -q "^model: 2 conv blocks x 16 filters" "$tmp/e.out"' "check: --set model.filters=16 lost to --config: $(grep '^model:' "$tmp/e.out")"

echo "cli_config_order: $pass passed, $fail failed"
[ $fail -eq 0 ]
