#!/usr/bin/env bash
# "Does it work on a GPU, and how fast?" in one command (docs/how-to/gpu.md). Run on a Linux machine with an NVIDIA driver,
# the .NET 10 SDK and access to NuGet (the CUDA TorchSharp backend is restored, several GB). It builds the repository with
# the CUDA backend, runs the U-ViT parity tests on CUDA, then prints train and sample throughput (U-ViT-S/2 and the MNIST
# default) in fp32 and, for sampling, with fp16 and bf16 weights. Results also go to $OUT_DIR (default gpu-check-results/).
# Mixed-precision training (autocast + GradScaler with fp32 master weights) is not in TorchSharp 0.107, so it is not measured.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT_DIR:-gpu-check-results}"
mkdir -p "$out"
uvit="dotnet src/Samples/Cli/bin/Release/net10.0/uvit.dll"
status=0
step() { echo; echo "== $*"; }

step "GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || { echo "no NVIDIA driver (nvidia-smi failed)"; exit 1; }

step "build with the CUDA backend (bin/ and obj/ from another backend are removed first)"
find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
dotnet build UViT.MLNet.sln -c Release -p:TorchBackend=cuda-linux 2>&1 | tail -3 | tee "$out/build.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed: see above"; exit 1; }

step "CUDA visible to libtorch"
$uvit bench --device cuda --cases matmul | tee "$out/matmul.jsonl" || { echo "--device cuda failed: the line above says why"; exit 1; }

step "parity tests on CUDA (UVIT_TEST_DEVICE=cuda; needs UVIT_FIXTURES, see docs/how-to/gpu.md)"
if [ -n "${UVIT_FIXTURES:-}" ]; then
  UVIT_TEST_DEVICE=cuda dotnet test tests/UViT.MLNet.Tests -c Release -p:TorchBackend=cuda-linux --no-build \
    --filter "FullyQualifiedName~UViTParityTests" 2>&1 | tail -15 | tee "$out/parity.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "PARITY FAILED on CUDA"; status=1; }
else
  echo "skipped: set UVIT_FIXTURES to the fixture folder"; status=1
fi

step "throughput, fp32: train U-ViT-S/2 (batch 32), sample U-ViT-S/2 latent (batch 4, 20 guided steps), MNIST default generation (batch 100)"
$uvit bench --device cuda --cases train sample mnist_generate --train-steps 10 --sample-runs 5 --generate-runs 5 | tee "$out/fp32.jsonl" || status=1

for dtype in float16 bfloat16; do
  step "throughput, $dtype weights (sampling only)"
  $uvit bench --device cuda --dtype $dtype --cases sample mnist_generate --sample-runs 5 --generate-runs 5 | tee "$out/$dtype.jsonl" || status=1
done

step "MNIST default training on CUDA (uvit train, 300 steps at the default batch)"
start=$(date +%s.%N)
$uvit train --device cuda --steps 300 --output "$out/mnist-train" > "$out/mnist-train.txt" 2>&1 || { tail -3 "$out/mnist-train.txt"; status=1; }
echo "300 steps in $(echo "$(date +%s.%N) - $start" | bc) s (with start-up, data loading and the final samples)"

step "mixed-precision training: not measured (TorchSharp 0.107 has no autocast or GradScaler)"
echo; [ $status -eq 0 ] && echo "gpu-check: OK (results in $out/)" || echo "gpu-check: something failed (see above; results in $out/)"
exit $status
