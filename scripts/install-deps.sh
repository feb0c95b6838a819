#!/usr/bin/env bash
# Installs the Debian packages ser builds against, when any is missing.
#   scripts/install-deps.sh              what `make` and `make test` need
#   scripts/install-deps.sh reliability  also what make sanitize / valgrind / fuzz need
#   scripts/install-deps.sh slurm        also Slurm's daemons and munge, for the test against a
#                                        real Slurm (tests/cli_slurm_real.sh; CI installs them)
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
# strace (kills at exact system calls in cli_resume_kill) and GNU time (peak memory in
# cli_corpus_large, cli_model_files): those tests say so and skip that part without them.
PKGS=(build-essential cmake pkg-config
      libsndfile1-dev libsoxr-dev libfftw3-dev libopenblas-dev
      libinih-dev libcjson-dev libplplot-dev plplot-driver-cairo libaubio-dev
      libdnnl-dev libssl-dev zlib1g-dev protobuf-c-compiler libprotobuf-c-dev libpng-dev strace time)
# clang with libFuzzer (libclang-rt-dev) and its OpenMP runtime (libomp-dev), valgrind
if [ "${1:-}" = reliability ]; then PKGS+=(clang libclang-rt-dev libomp-dev valgrind); fi
# slurmctld, slurmd, the client commands (sbatch, scontrol, ...) and munge: the test starts its
# own one-node cluster from them; not in the default set, as the packages install services
if [ "${1:-}" = slurm ]; then PKGS+=(slurmctld slurmd slurm-client munge); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "ser: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  $cmd
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq && sudo $cmd
else
  echo "ser: missing packages: ${missing[*]}" >&2
  echo "ser: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
