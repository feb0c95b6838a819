# The common start of the CLI tests (tests/cli_*.sh): `. "$(dirname "$0")/lib_cli.sh" NAME`.
# Gives $tmp (a fresh folder, removed at exit), the counters fail / pass, and
#   bad MSG          report a failure
#   ok               count a pass
#   check EXPR MSG   eval EXPR: a pass, or a failure saying MSG
: "${SER_BIN:?SER_BIN must point at the ser binary}"
tmp=$(mktemp -d "/tmp/ser_${1:?lib_cli.sh needs the test name}_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The on-disk feature cache (docs/config.md) of this test only, unless the caller chose one
# (SER_FEATURE_CACHE=off: the in-memory path)
export SER_FEATURE_CACHE="${SER_FEATURE_CACHE:-$tmp/feature-cache}"
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
pass=0
ok() { pass=$((pass + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
