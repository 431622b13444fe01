#!/usr/bin/env bash
# The GPU benchmark: classification and reply generation on onnxruntime's CUDA execution provider (fp32,
# fused and fp16 bundles; the generator's KV cache stays on the GPU between steps through IO binding),
# beside transformers on the same GPU and the GPU's own fp32/fp16 GEMM limit. Same JSON and Markdown as
# `make bench`, under bench/results/gpu/. Budget: 8 minutes for the measurement (enforced below).
#
# Needs an NVIDIA GPU with its driver. Installs into .venv: onnxruntime-gpu with CUDA and cuDNN from their
# PyPI wheels, and a CUDA build of the same torch version when the installed one has no CUDA. On a machine
# without an index, point pip at a wheelhouse: PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
ORT_VERSION=$(grep -E '^onnxruntime==' requirements-lock.txt | cut -d= -f3)
TORCH_VERSION=$(grep -E '^torch==' requirements-lock.txt | cut -d= -f3)
TORCH_VERSION=${TORCH_VERSION%%+*}  # the lock pins the local CPU build (2.13.0+cpu)

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
make install

if ! $BIN/python -c 'import onnxruntime as o, sys; sys.exit("CUDAExecutionProvider" not in o.get_available_providers())'; then
  $BIN/pip uninstall --yes --quiet onnxruntime || true
  $BIN/pip install --quiet "onnxruntime-gpu[cuda,cudnn]==${ORT_VERSION}"
fi
if ! $BIN/python -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
  # PyPI's Linux torch wheel is the CUDA build; --no-deps first so nothing else is reinstalled
  $BIN/pip install --quiet --force-reinstall --no-deps "torch==${TORCH_VERSION}"
  $BIN/pip install --quiet "torch==${TORCH_VERSION}"
fi
$BIN/python - <<'EOF'
import onnxruntime as ort
import torch

assert "CUDAExecutionProvider" in ort.get_available_providers(), ort.get_available_providers()
print("onnxruntime", ort.__version__, ort.get_available_providers())
print("torch", torch.__version__, torch.cuda.get_device_name(0))
EOF

timeout 480 $BIN/helploop bench --device cuda --only classification generation --out bench/results/gpu "$@"
