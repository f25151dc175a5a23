#!/bin/bash
# The path kernel against explaind 0.1.0 with both sides on a GPU: one device run (a few minutes).
#
# The device machine cannot reach a package registry and its python3 (3.12, with CUDA torch) lacks explaind,
# so the wheel travels with the tree. Here, once, from the repository root:
#   echo /.whl/ >> .git/info/exclude
#   .venv/bin/python -m pip download --no-deps --ignore-requires-python --only-binary=:all: \
#       --python-version 3.12 -d .whl explaind==0.1.0
# then run this script there with `.whl` carried (the device tool's `carry: [".whl"]`):
#   bash benchmarks/device_path_kernel.sh [case ...]     (cases: paper mid big; default all three)
# Each case prints the benchmark's table (benchmarks/path_kernel_explaind.py; figures in docs/training.md)
# and, where $OUT is set, is also written under it. Long runs show the steady state: 10- and 20-step means
# include the first steps' one-time costs.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --ignore-requires-python \
    --target /tmp/site .whl/explaind-*.whl || exit 1
export PYTHONPATH=$PWD/src:/tmp/site PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
nvidia-smi -L
out=${OUT:-/tmp}
cases=${*:-paper mid big}
bench() {
    name=$1; limit=$2; shift 2
    [[ " $cases " == *" $name "* ]] || return 0
    echo "== $name: $*"
    timeout "$limit" python3 benchmarks/path_kernel_explaind.py --device cuda --explaind-python python3 \
        --threads 4 --midpoints 10 "$@" 2>&1 | grep -v '^|---' | tee "$out/$name.txt"
}
bench paper 120 --steps 200 --memory-rows
bench mid 200 --steps 200 --d-model 64 --mlp 256
bench big 240 --steps 200 --d-model 128 --mlp 512
