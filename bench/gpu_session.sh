#!/usr/bin/env bash
# A GPU session in as few calls as possible. The lent GPU machines (see /work/.library/device)
# have torch, triton, transformers, pandas, seaborn and pytest-benchmark but no package index, so
# genzoo runs from the checkout (PYTHONPATH) and diffusers and mlxtend travel as wheels in .whl/.
#
#   bash bench/gpu_session.sh wheels           here, where pip reaches an index: fill .whl/ (Python 3.12)
#   bash bench/gpu_session.sh check [ARGS]     there: kernel and integration tests on the GPU
#   bash bench/gpu_session.sh run ID [ARGS]    there: genzoo run --run-id ID ARGS, e.g. --ops-only --quick
#   bash bench/gpu_session.sh goals            there: run goals --ops-only --goals, then check
#
# A lease is 15 minutes of device time, the machine's start (a minute or two) included: one call
# of `goals` holds what matters most. The speed goals with their baselines and verdicts come first,
# each row carrying its own error against float64; the kernel tests follow, cut off after
# GENZOO_CHECK_BUDGET_S seconds (default 240) so that the call ends inside its 10 minutes.
#
# `run` writes results/ID/ and, when $OUT is set (the device tool's folder that comes back, at
# most 8 files), packs it into $OUT/ID.tar.gz beside the log. Name the commit the working tree
# came from with GENZOO_GIT_COMMIT=<sha>: the machine gets the files without .git.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=(diffusers==0.42.1 mlxtend==0.25.0)
SITE=/tmp/genzoo-site

setup() {
    if compgen -G ".whl/*.whl" >/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || exit 1
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    fi
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
    python3 -c "import torch, triton, transformers, diffusers, mlxtend
print('torch', torch.__version__, '| triton', triton.__version__, '| transformers', transformers.__version__,
      '| diffusers', diffusers.__version__, '| cuda', torch.cuda.is_available())" || exit 1
}

check_tests() {
    # a kernel that hangs on the GPU must not take the lease with it
    local timeout=()
    python3 -c "import pytest_timeout" 2>/dev/null && timeout=(--timeout 300)
    python3 -m pytest -q -p no:cacheprovider -m "not slow or gpu" "${timeout[@]}" tests/kernels tests/integrations "$@"
}

run_and_pack() {  # RUN_ID [genzoo run options]
    local run_id=$1 log="results/$1.log" status
    mkdir -p results
    python3 -m genzoo run --results results --run-id "$run_id" "${@:2}" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    if [ -n "${OUT:-}" ] && [ -d "results/$run_id" ]; then
        tar czf "$OUT/$run_id.tar.gz" -C results "$run_id" && cp "$log" "$OUT/"
    fi
    return "$status"
}

case "${1:-}" in
    wheels)
        python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl "${WHEELS[@]}"
        ;;
    check)
        setup
        check_tests "${@:2}"
        ;;
    goals)
        setup
        run_and_pack goals --ops-only --goals
        status=$?
        # the tests come second: a failing one is logged, and the rows above stand or fall by
        # their own error against float64
        export -f check_tests
        timeout --signal=INT --kill-after=20 "${GENZOO_CHECK_BUDGET_S:-240}" \
            bash -c 'check_tests -x' 2>&1 | tee "${OUT:-results}/check.log"
        exit "$status"
        ;;
    run)
        [ -n "${2:-}" ] || { echo "usage: $0 run RUN_ID [genzoo run options]" >&2; exit 2; }
        setup
        run_and_pack "${@:2}"
        ;;
    *)
        awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0" >&2  # this header
        exit 2
        ;;
esac
