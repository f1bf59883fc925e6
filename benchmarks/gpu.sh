#!/usr/bin/env bash
# The GPU check (issue 15, item 5): one prepared script for a lent CUDA machine, about 8 minutes on an H100.
# Usage: benchmarks/gpu.sh [STAGE ...]  (stages: tests batch suite autoattack attacks; default all, in that
# order). It runs from the repository root and writes everything under $OUT (default /tmp/robustcheck-gpu):
#   env.txt            GPU, driver, torch, CUDA
#   cuda_tests.log     tests/evaluation/test_cuda.py (CPU vs CUDA on every defence, threat model, attack)
#   cuda_compare.json  every compared metric value, CPU and CUDA
#   batch_size.txt     one gradient step over 4,096 digits per batch size
#   autoattack.txt     standard AutoAttack, ours vs pyautoattack, 500 digits, on the GPU
#   attacks.txt        attack throughput and fraction of the limit on the GPU
#   default_suite.txt  the default suite cold and warm with --robustcheck-device=cuda
#   default_suite.tar.gz  its pytest logs (--durations) and run records
# Packages the machine lacks travel as wheels in .whl/ (see /work/.library/device/README.md): mlxtend,
# torchattacks, pyautoattack, foolbox (+ eagerpy, GitPython, gitdb, smmap). Each stage has its own
# timeout, so one that hangs costs only its share.
set -uo pipefail
OUT=${OUT:-/tmp/robustcheck-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=python3
stage() { echo "=== $1 ($(date +%T))"; }

stage install
if [ -d .whl ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
$PY -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1

stage env
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name(0), 'threads', torch.get_num_threads())"
} 2>&1 | tee "$OUT/env.txt"

tests() {
    ROBUSTCHECK_CUDA_REPORT="$OUT/cuda_compare.json" timeout 200 \
        $PY -m pytest tests/evaluation/test_cuda.py -v -p no:cacheprovider -rA 2>&1 | tee "$OUT/cuda_tests.log" \
        | tail -40
}
batch() {
    timeout 40 $PY benchmarks/batch_size.py --device cuda --n 4096 --sizes 4096,2048,1024,512,256,64 \
        --repeats 5 2>&1 | tee "$OUT/batch_size.txt"
}
suite() {
    timeout 170 $PY benchmarks/default_suite.py --device cuda --out "$OUT/default" 2>&1 | tee "$OUT/default_suite.txt"
    tail -25 "$OUT/default/cold.log" 2>/dev/null
    tar -czf "$OUT/default_suite.tar.gz" -C "$OUT" default && rm -rf "$OUT/default"  # 8 files come back at most
}
autoattack() {
    timeout 150 $PY benchmarks/autoattack.py --n 500 --device cuda --threads 16 --repeats 1 --cache-dir /tmp/aa-cache 2>&1 \
        | tee "$OUT/autoattack.txt"
}
attacks() {
    timeout 90 $PY benchmarks/attacks.py --n 500 --device cuda --threads 16 --batch-size 512 \
        --cache-dir /tmp/aa-cache 2>&1 | tee "$OUT/attacks.txt"
}

for s in "${@:-tests batch suite autoattack attacks}"; do
    for one in $s; do
        stage "$one"
        "$one"
    done
done
stage done
