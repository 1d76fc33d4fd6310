#!/usr/bin/env bash
# The kit's first run on a GPU, in one script (< 10 min on one GPU; smoke sizes):
#   1. device   the device line (name, compute capability, AMP dtype); a GPU torch cannot use fails
#   2. train    `eosr train <kind> --epochs 1` for each kind, with AMP (bf16 from capability 8.0,
#               fp16 + GradScaler below; the GANs train in fp32)
#   3. resume   the U-Net checkpoint of step 2 extended to 2 epochs (RNG states from the CPU)
#   4. torchrun 2 processes on ONE GPU (CUDA_VISIBLE_DEVICES=0): the gloo fallback
#   5. bench    `eosr bench --only training`: fp32 and AMP rows
# and writes one JSON summary, OUT/gpu_check.json (every step: status, seconds, what was checked).
#
# Usage: tools/gpu_check.sh [--dry] [--out DIR]
#   --dry   on a machine without a GPU: the same steps on the CPU (EOSR_DEVICE=cpu), with every
#           check except the CUDA ones (device type, AMP dtype, nccl), which are reported as
#           skipped. tests/test_gpu_check.py runs it.
# Environment: PYTHON (default .venv/bin/python, else python3), GPU_CHECK_KINDS (default all five
# kinds), GPU_CHECK_STEPS (default "device train resume torchrun bench").
set -u
cd "$(dirname "$0")/.."
MODE=gpu
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) MODE=dry ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT="${OUT:-runs/gpu-check-$(date +%Y%m%d-%H%M%S)-$MODE}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
KINDS="${GPU_CHECK_KINDS:-unet label_sr pix2pix cgan ntl_sr}"
STEPS="${GPU_CHECK_STEPS:-device train resume torchrun bench}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
if [ "$MODE" = dry ]; then export EOSR_DEVICE=cpu; fi
: > "$OUT/steps.jsonl"
echo "gpu_check ($MODE): writing to $OUT"

# record NAME STATUS SECONDS LOG DETAIL: one line of steps.jsonl
record() {
  "$PY" -c 'import json, sys; n, s, t, log, d = sys.argv[1:6]; print(json.dumps({"step": n, "status": s, "seconds": round(float(t), 1), "log": log, "detail": d}))' "$@" >> "$OUT/steps.jsonl"
  printf '  %-16s %-8s %6ss  %s\n' "$1" "$2" "$3" "$5"
}

# step NAME TIMEOUT_S CHECK_PY -- COMMAND...: run COMMAND (log in OUT/NAME.log), then CHECK_PY
# (python code given MODE, OUT and LOG in sys.argv; it prints what it checked or raises)
step() {
  local name="$1" limit="$2" check="$3" start end rc detail
  shift 4
  start=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  end=$(date +%s)
  if [ $rc -ne 0 ]; then
    record "$name" failed "$((end - start))" "$name.log" "exit $rc: $(tail -n 3 "$OUT/$name.log" | tr '\n' ' ' | cut -c1-300)"
    return
  fi
  if detail=$("$PY" -c "$check" "$MODE" "$OUT" "$OUT/$name.log" 2>&1); then
    record "$name" ok "$((end - start))" "$name.log" "$detail"
  else
    record "$name" failed "$((end - start))" "$name.log" "$(echo "$detail" | tail -n 1)"
  fi
}

wants() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# the shared reading of results.jsonl and the CUDA expectations (skipped in --dry)
COMMON='
import json, sys
from pathlib import Path
mode, out, log = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
gpu = mode == "gpu"
def records(folder):
    return [json.loads(l) for l in (out / folder / "results.jsonl").read_text().splitlines() if l.strip()]
def expect(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")
'

if wants device; then
  step device 120 "$COMMON"'
line = log.read_text().strip().splitlines()[-1]
expect(line.startswith("device: "), f"a device line, got {line!r}")
if gpu:
    expect("device: cuda" in line and "capability" in line, f"a CUDA device: {line}")
    expect("precision bf16" in line or "precision fp16" in line, f"AMP on CUDA: {line}")
print(line if gpu else line + " (CUDA checks skipped: --dry)")
' -- "$PY" -c 'from helpers.core import config; d = config.pick_device(verbose=False); print(config.device_report(d, config.precision_name(config.amp_dtype(d, True))))'
fi

if wants train; then
  for kind in $KINDS; do
    step "train_$kind" 300 "$COMMON"'
kind = log.stem.split("_", 1)[1]
rec = records("train")[-1]
expect(rec["checkpoint"].endswith(f"train/{kind}/checkpoint.pt"), f"a record of {kind}")
start = [l for l in log.read_text().splitlines() if l.startswith(f"eosr train {kind}: device:")]
expect(start, "the start line with the device")
gan = kind in ("pix2pix", "cgan")
dev, prec, secs, names = rec["device"], rec["precision"], rec["seconds"], sorted(rec["metrics"])
if gpu:
    expect(dev.startswith("cuda"), f"trained on CUDA, got {dev}")
    expect((prec == "fp32") == gan, f"AMP except the GANs, got {prec}")
print(f"{kind}: {dev}, {prec}, {secs:.0f} s, metrics {names[:3]}")
' -- "$PY" -m helpers.apps.cli train "$kind" --profile smoke --epochs 1 --out "$OUT/train" --time-cap 0
  done
fi

if wants resume; then
  step resume 300 "$COMMON"'
hist = json.loads((out / "train/train/unet/history.json").read_text())
epochs, prec, losses = hist["epoch"], hist["precision"], hist["train_loss"]
expect(epochs == [1, 2], f"epochs [1, 2] after the resume, got {epochs}")
print(f"unet resumed to epoch 2 ({prec}), losses {[round(x, 4) for x in losses]}")
' -- "$PY" -m helpers.apps.cli train unet --profile smoke --epochs 2 --out "$OUT/train" --time-cap 0
fi

if wants torchrun; then
  step torchrun 400 "$COMMON"'
(rec,) = records("ddp")
ranks, backend, dev = rec["ranks"], rec["backend"], rec["device"]
expect(ranks == 2, f"2 ranks, got {ranks}")
expect(backend == "gloo", f"the gloo fallback with 2 ranks on one GPU, got {backend}")
print(f"2 ranks, backend {backend}, device {dev}")
' -- env CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}" OMP_NUM_THREADS=1 \
    "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 \
    -m helpers.apps.cli train unet --profile smoke --epochs 1 --out "$OUT/ddp" --time-cap 0
fi

if wants bench; then
  step bench 400 "$COMMON"'
rows = [r for r in json.loads((out / "bench/bench.json").read_text())["rows"] if r["group"] == "training"]
cases = [r["case"] for r in rows]
expect(any("fp32]" in c for c in cases), f"fp32 rows, got {cases}")
if gpu:
    expect(any("[cuda amp-" in c for c in cases), f"AMP rows on CUDA, got {cases}")
print("; ".join("%s: %.1f samples/s" % (r["case"], r["median"]) for r in rows))
' -- env EOSR_RUN_DIR="$OUT/bench" "$PY" -m helpers.apps.cli bench --profile smoke --only training
fi

"$PY" - "$MODE" "$OUT" <<'EOF'
import json, sys, time
from pathlib import Path
mode, out = sys.argv[1], Path(sys.argv[2])
steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
summary = {
    "mode": mode,
    "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    "ok": all(s["status"] == "ok" for s in steps) and bool(steps),
    "seconds": sum(s["seconds"] for s in steps),
    "cuda_checks": "skipped (--dry)" if mode == "dry" else "run",
    "steps": steps,
}
(out / "gpu_check.json").write_text(json.dumps(summary, indent=1))
print(f"gpu_check ({mode}): {'ok' if summary['ok'] else 'FAILED'} in {summary['seconds']:.0f} s; {out / 'gpu_check.json'}")
sys.exit(0 if summary["ok"] else 1)
EOF
