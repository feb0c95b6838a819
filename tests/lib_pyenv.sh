# Python packages from PyPI for the tests that check ser's files with the tools that read them
# (onnxruntime, tensorboard): `. "$(dirname "$0")/lib_pyenv.sh"; pyenv_need MODULE=PACKAGE...`
# makes (once) a venv under the build folder, BUILD/pyenv (next to $SER_BIN; SER_PYENV overrides),
# pip-installs the packages whose module does not import yet, and sets $py to its python. When
# that cannot be done (no python3 venv, no network, no wheel for this platform) the test is
# SKIPPED: exit 77 with the reason. A lock keeps parallel tests from building it twice.
: "${SER_BIN:?SER_BIN must point at the ser binary}"
pyenv_dir=${SER_PYENV:-$(dirname "$SER_BIN")/pyenv}
py=$pyenv_dir/bin/python

pyenv_skip() { echo "SKIPPED: $*"; exit 77; }

pyenv_need() {
  command -v python3 >/dev/null || pyenv_skip "no python3 to make $pyenv_dir"
  local missing=() spec mod
  exec 9>"$pyenv_dir.lock" || pyenv_skip "cannot create $pyenv_dir.lock"
  flock 9
  if [ ! -x "$py" ]; then
    python3 -m venv "$pyenv_dir" >"$pyenv_dir.log" 2>&1 \
      || { flock -u 9; pyenv_skip "python3 -m venv $pyenv_dir failed (python3-venv missing?): $(tail -1 "$pyenv_dir.log")"; }
  fi
  for spec in "$@"; do
    mod=${spec%%=*}
    "$py" -c "import $mod" 2>/dev/null || missing+=("${spec#*=}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "pyenv: pip install ${missing[*]} into $pyenv_dir"
    timeout 900 "$py" -m pip install --disable-pip-version-check -q --timeout 60 "${missing[@]}" >"$pyenv_dir.log" 2>&1 \
      || { flock -u 9; pyenv_skip "pip install ${missing[*]} failed (offline? no wheel?): $(tail -1 "$pyenv_dir.log")"; }
  fi
  flock -u 9
  for spec in "$@"; do
    "$py" -c "import ${spec%%=*}" 2>/dev/null || pyenv_skip "${spec%%=*} does not import after pip install ${spec#*=}"
  done
}
