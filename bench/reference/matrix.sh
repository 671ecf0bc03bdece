#!/usr/bin/env bash
# Run step.py over the thread / OMP_WAIT_POLICY / OPENBLAS_CORETYPE matrix and print a table.
# Usage: bench/reference/matrix.sh [FIXTURE_ROOT] [REPEATS]
#   FIXTURE_ROOT holds dssm/ and inttower/ fixtures (made with make_fixture.py if missing)
#   and receives the result-*.json reports; default: a new temporary directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${1:-$(mktemp -d -t prerank-ref.XXXXXX)}"
repeats="${2:-1}"
py=/usr/bin/python3
steps=(--check-steps 5 --warmup 5 --timed 40)

for model in dssm inttower; do
  [ -f "$root/$model/manifest.json" ] || "$py" "$here/make_fixture.py" --model "$model" --out "$root/$model"
done

run() {  # run LABEL MODEL THREADS ENV...
  local label=$1 model=$2 threads=$3; shift 3
  local out="$root/result-$model-$label-t$threads.json"
  env "$@" "$py" "$here/step.py" --fixture "$root/$model" --threads "$threads" "${steps[@]}" --out "$out"
  "$py" - "$out" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['model']:9} t={r['threads']} {sys.argv[2]:22} core={r['blas'].get('corename'):11} "
      f"median={r['median_ms']:8.2f} ms  min={r['min_ms']:8.2f} ms  "
      f"loss[0]={r['losses'][0]:.9f} loss[-1]={r['losses'][-1]:.9f}  "
      f"other_cpus={r['contention']['other_cpu_s'] / r['contention']['wall_s']:.2f}")
PY
}

for _ in $(seq "$repeats"); do
  for model in dssm inttower; do
    for coretype in env unset; do
      unset_args=()
      [ "$coretype" = unset ] && unset_args=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
      run "core=$coretype" "$model" 1 "${unset_args[@]}"
      run "core=$coretype" "$model" 2 "${unset_args[@]}"
      run "core=$coretype,PASSIVE" "$model" 2 "${unset_args[@]}" OMP_WAIT_POLICY=PASSIVE
    done
  done
done
