"""Ensembles: aggregate throughput of k runs trained as one model on stacked weights,
against one run (k = 1), in the same benchmark run.

    python -m benchmarks.run ensemble     # CPU: the default run, k = 4 against k = 1
    python -m benchmarks.ensemble gpu     # GPU: the paper model, k = 1, 4, 8, 16

CPU: whole default runs with every callback (wall time includes evaluation, which each
member does on its own), and the training steps alone (timed inside the run). GPU: the
training steps of the study's model at batch 128 per member, bf16, MFU against the bf16
matmul peak measured in the same run; merged into gpu.json as "ensemble".
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import RESULTS, config, machine, matmul_peak, recall_loop, training_setup
from benchmarks.common import write as write_results
from recall.ensemble import train_ensemble
from recall.fitting import quiet_lightning
from recall.model.gpt import GPT
from recall.model.stacked import StackedGPT, stack_padded

CPU_STEPS = 400  # of the default run (eight evaluations with every callback)
GPU_WORKLOAD = ["experiment=paper", "compile=false", "progress_refresh=0"]


def seeds(k: int) -> str:
    return f"seeds=[{','.join(map(str, range(k)))}]"


def whole_runs(k: int, run_dir: Path) -> dict:
    """k members of the default run with every callback, CPU_STEPS steps."""
    cfg = config([seeds(k), f"trainer.max_steps={CPU_STEPS}", f"run_dir={run_dir}"])
    members = [m.read_json(m.phases) for m in train_ensemble(cfg)]
    return {
        "wall_time_s": members[0]["wall_time_s"],
        "aggregate_tokens_per_s": sum(m["tokens_per_s"] for m in members),
    }


def forward_backward(k: int = 4, repeats: int = 20) -> dict:
    """ms per forward + backward of k default-model members on one batch each: their own
    GPTs one after another, the stacked forward (batched matmuls), and torch.func.vmap
    over GPT.forward (the alternative considered)."""
    cfg = config([])
    stream, shape = training_setup(cfg)
    models = [GPT(shape) for _ in range(k)]
    stacked = StackedGPT(models)
    tokens = stack_padded([stream.batch(step).tokens for step in range(k)])

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits.flatten(0, -2), targets.flatten())

    variants = {
        "separate": lambda: sum(loss(m(t)[0], t) for m, t in zip(models, tokens, strict=True)),
        "stacked": lambda: loss(stacked(tokens), tokens),
        "vmap": lambda: loss(stacked.vmapped(tokens), tokens),
    }
    timings = {}
    for name, run in variants.items():
        run().backward()  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            run().backward()
        timings[f"{name}_ms"] = round(1000 * (time.perf_counter() - started) / repeats, 1)
    return timings


def cpu() -> dict:
    results: dict = {"steps": CPU_STEPS, "forward_backward_k4": forward_backward()}
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, 4):
            steps_only = recall_loop([seeds(k)], 100, 10, Path(tmp) / f"steps{k}")
            results[f"k{k}"] = {
                **whole_runs(k, Path(tmp) / f"runs{k}"),
                "training_steps_tokens_per_s": round(steps_only.tokens_per_s),
                "training_step_ms": round(steps_only.step_ms, 1),
            }
    one, four = results["k1"], results["k4"]
    results["aggregate_speedup_k4"] = round(
        four["aggregate_tokens_per_s"] / one["aggregate_tokens_per_s"], 3
    )
    results["training_steps_speedup_k4"] = round(
        four["training_steps_tokens_per_s"] / one["training_steps_tokens_per_s"], 3
    )
    return results


def gpu(ks: tuple[int, ...] = (1, 4, 8, 16), compiled: tuple[int, ...] = (16,)) -> dict:
    cuda = torch.device("cuda")
    peak = matmul_peak(cuda, torch.bfloat16, 8192)
    results: dict = {"machine": machine(cuda), "bf16_matmul_peak_flops_per_s": round(peak)}
    with tempfile.TemporaryDirectory() as tmp:
        single = recall_loop(GPU_WORKLOAD, 30, 10, Path(tmp) / "single")
        results["single_run_eager"] = {"mfu": round(single.flops_per_s / peak, 4)}
        print("single run", results["single_run_eager"], flush=True)
        for k in ks:
            try:
                timed = recall_loop([*GPU_WORKLOAD, seeds(k)], 30, 10, Path(tmp) / f"k{k}")
            except torch.OutOfMemoryError:
                results[str(k)] = "out of GPU memory"
                torch.cuda.empty_cache()
                continue
            results[str(k)] = {
                "mfu": round(timed.flops_per_s / peak, 4),
                "tokens_per_s": round(timed.tokens_per_s),
                "step_ms": round(timed.step_ms, 1),
            }
            print(k, results[str(k)], flush=True)
        for k in compiled:  # torch.compile'd stacked forward (compile=true)
            overrides = [*GPU_WORKLOAD, seeds(k), "compile=true"]
            timed = recall_loop(overrides, 30, 30, Path(tmp) / f"compiled{k}")
            results[f"{k}_compiled"] = {
                "mfu": round(timed.flops_per_s / peak, 4),
                "tokens_per_s": round(timed.tokens_per_s),
                "step_ms": round(timed.step_ms, 1),
            }
            print(k, "compiled", results[f"{k}_compiled"], flush=True)
    return results


def main() -> None:
    quiet_lightning()
    if sys.argv[1:2] != ["gpu"]:
        sys.exit("usage: python -m benchmarks.ensemble gpu (the CPU part: benchmarks.run)")
    if not torch.cuda.is_available():
        sys.exit("benchmarks.ensemble: no CUDA GPU here; run it on a GPU machine")
    path = RESULTS / "gpu.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["ensemble"] = gpu(*[tuple(map(int, a.split(","))) for a in sys.argv[2:]])
    print(results["ensemble"])
    write_results("gpu", results)


if __name__ == "__main__":
    main()
