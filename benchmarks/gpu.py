"""The GPU reference workload: the `paper` model (8 layers, d 512) at N = 64k with bf16
mixed precision, eager and torch.compile'd (and at 4x the batch), against a plain bf16
PyTorch loop; MFU against the bf16 matmul peak measured in the same run. Needs a GPU.

    python -m benchmarks.gpu     # writes benchmarks/results/gpu.json (a few minutes)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.common import Throughput, config, machine, matmul_peak, plain_loop, recall_loop
from benchmarks.common import write as write_results
from recall.fitting import quiet_lightning

WORKLOAD = ["experiment=paper", "progress_refresh=0"]


def summary(timed: Throughput, peak: float) -> dict:
    return {
        "tokens_per_s": round(timed.tokens_per_s),
        "step_ms": round(timed.step_ms, 2),
        "model_flops_per_s": round(timed.flops_per_s),
        "mfu": round(timed.flops_per_s / peak, 4),
    }


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("benchmarks.gpu: no CUDA GPU here; run it on a GPU machine")
    quiet_lightning()
    cuda = torch.device("cuda")
    peak = matmul_peak(cuda, torch.bfloat16, 8192)
    results = {"machine": machine(cuda), "bf16_matmul_peak_flops_per_s": round(peak)}
    steps, warmup = 200, 50  # warm-up long enough for torch.compile's first graphs
    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_loop(config(WORKLOAD), steps, warmup, cuda, torch.bfloat16)
        results["plain_bf16"] = summary(plain, peak)
        variants = {  # the study's batch of 128, and 4x that to show what the GPU could do
            "recall_eager": ["compile=false"],
            "recall_compiled": ["compile=true"],
            "recall_cuda_graphs": ["compile=reduce-overhead"],
            "recall_compiled_batch_512": ["compile=true", "data.batch_size=512"],
        }
        for name, overrides in variants.items():
            timed = recall_loop([*WORKLOAD, *overrides], steps, warmup, Path(tmp) / name)
            results[name] = summary(timed, peak)
        results["padding_share"] = round(plain.padding_share, 4)
        results["sampling_share_of_plain_step"] = round(plain.sampling_seconds / plain.seconds, 4)
    print(results)
    write_results("gpu", results)


if __name__ == "__main__":
    main()
