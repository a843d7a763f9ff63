#!/usr/bin/env bash
# Runs every atheris harness in fuzz/ for a bounded time and prints executions and findings.
#   bench/fuzz.sh            30 s each (FUZZ_SECONDS=N to change), corpora and crash files under $FUZZ_OUT
#   bench/fuzz.sh money      only fuzz/fuzz_money.py
# A finding is an input on which a parser returned an invalid value or raised something other than its
# documented error; libFuzzer stops that harness at the first one and writes it to $FUZZ_OUT/<name>/crash-*.
# Reproduce one with: .venv/bin/python fuzz/fuzz_<name>.py $FUZZ_OUT/<name>/crash-<hash>
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SECONDS_EACH=${FUZZ_SECONDS:-30}
OUT=${FUZZ_OUT:-${TMPDIR:-/tmp}/market-fuzz}
if ! "$PY" -c "import atheris" 2>/dev/null; then
  echo "atheris is not installed (pip install -r requirements-dev.txt); nothing fuzzed"
  exit 2
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=()
  for f in fuzz/fuzz_*.py; do n=${f#fuzz/fuzz_}; names+=("${n%.py}"); done
fi
total_runs=0
total_findings=0
printf '%-14s %12s %8s %10s %9s  %s\n' harness executions seconds exec/s findings detail
for name in "${names[@]}"; do
  dir="$OUT/$name"
  mkdir -p "$dir/corpus"
  rm -f "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-*
  log="$dir/last.log"
  "$PY" "fuzz/fuzz_$name.py" "$dir/corpus" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/" >"$log" 2>&1
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [ -z "$runs" ] && runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -1)
  runs=${runs:-0}
  secs=$(grep -o 'in [0-9]* second' "$log" | grep -o '[0-9]*' | tail -1)
  secs=${secs:-$SECONDS_EACH}
  findings=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  detail=""
  if [ "$findings" -gt 0 ]; then
    detail=$(grep -m1 -E '^[A-Za-z]*(Error|Exception)' "$log" | cut -c1-120)
    detail="$detail -> $(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | head -1)"
  fi
  rate=$(( secs > 0 ? runs / secs : runs ))
  printf '%-14s %12s %8s %10s %9s  %s\n' "$name" "$runs" "$secs" "$rate" "$findings" "$detail"
  total_runs=$((total_runs + runs))
  total_findings=$((total_findings + findings))
done
echo "atheris: ${#names[@]} harnesses, $total_runs executions, $total_findings findings (${SECONDS_EACH} s each; corpora in $OUT)"
[ "$total_findings" -eq 0 ]
