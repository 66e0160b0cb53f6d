#!/usr/bin/env bash
# make fuzz: run every fuzz target in the repository for FUZZTIME each (default 20s;
# e.g. FUZZTIME=1m make fuzz). Targets are found, not listed here: every package with a
# `func Fuzz…` in a test file is asked for its targets with `go test -list '^Fuzz'`, so
# a new target is picked up by itself. `make test` runs the seed corpora (f.Add and
# testdata/fuzz) as ordinary tests; this explores beyond them.
#
# A target that fails writes the input to <package>/testdata/fuzz/<Target>/: fix the
# code and commit that file, it becomes a seed. Go 1.26's fuzzing coordinator can end a
# run at the deadline with a bare "context deadline exceeded" and no input written
# (go.dev/issue/75804, fixed in Go 1.27): such a run is reported as a flake, not a
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
FUZZTIME=${FUZZTIME:-20s}

# integration/ needs running services (its TestMain starts them, even for -list), and
# cadence-devserver/ is a module outside go.work.
dirs=$(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' . \
  --exclude-dir=.git --exclude-dir=integration --exclude-dir=cadence-devserver --exclude-dir=.run |
  xargs -n1 dirname | sort -u)

# inputs counts the failing inputs saved for a target.
inputs() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }

passed=0 flaked=0 failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in $dirs; do
  for target in $(cd "$dir" && go test -list '^Fuzz' . | grep '^Fuzz' || true); do
    echo "== $dir $target ($FUZZTIME)"
    corpus="$dir/testdata/fuzz/$target"
    before=$(inputs "$corpus")
    if (cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" .) 2>&1 | tee "$log"; then
      passed=$((passed + 1))
      continue
    fi
    after=$(inputs "$corpus")
    if [ "$after" = "$before" ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
      echo "-- $target: stopped by the fuzzing coordinator's deadline race, no failing input (go.dev/issue/75804)"
      flaked=$((flaked + 1))
      continue
    fi
    failed+=("$dir $target")
  done
done

echo "fuzz: $passed passed, $flaked flaked at the deadline, ${#failed[@]} failed (FUZZTIME=$FUZZTIME each)"
if [ ${#failed[@]} -gt 0 ]; then
  printf '  FAILED %s\n' "${failed[@]}"
  echo "failing inputs are in each package's testdata/fuzz/<Target>/; rerun one with go test -run '<Target>/<file>'"
  exit 1
fi
