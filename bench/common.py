"""Helpers shared by the benchmark scripts: medians of synchronised timings and device names."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Callable

import torch


def median_seconds(fn: Callable[[], object], repeats: int, device: str = "cpu", warmup_s: float = 0.0) -> float:
    """Median wall time of fn() after warming up (one call, or calls for at least ``warmup_s`` seconds: large
    fresh allocations reach their steady cost, with the kernel's huge pages recycled, only after a few);
    CUDA timings are synchronised with events."""
    return statistics.median(interleaved_seconds({"fn": fn}, repeats, device, warmup_s)["fn"])


def interleaved_seconds(fns: dict[str, Callable[[], object]], repeats: int, device: str = "cpu",
                        warmup_s: float = 0.0) -> dict[str, list[float]]:
    """Wall times of each of ``fns``, ``repeats`` rounds, after each has warmed up as in :func:`median_seconds`.
    Rounds keep the functions side by side in time: a shared VM's speed can change by 1.5x within seconds
    (measured on a 2-core cloud Xeon), and timing all of one function's repeats before the next's would put that
    change into their ratio. With several functions, each is called twice in a round and the second call timed:
    the first brings back the caches and pages that the others' calls took (without it, a 3 ms transform timed
    after PyWavelets' 100 ms one ran 1.5x slower). :func:`median_ratio` compares two of them round by round."""
    for fn in fns.values():
        start = time.perf_counter()
        fn()
        while time.perf_counter() - start < warmup_s:
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if len(fns) > 1:
                fn()
            times[name].append(_seconds(fn, device))
    return times


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of one function's time over another's, from :func:`interleaved_seconds`."""
    return statistics.median(n / d for n, d in zip(numerator, denominator))


def _seconds(fn: Callable[[], object], device: str) -> float:
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's model name."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def _cpuinfo(field: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cache_sizes() -> dict[str, str]:
    """The first CPU's caches as sysfs reports them, e.g. {"L1d": "48K", "L2": "1024K", "L3": "32768K"}."""
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind = (index / "level").read_text().strip(), (index / "type").read_text().strip()
            sizes[f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")] = (index / "size").read_text().strip()
        except OSError:
            continue
    return sizes


def machine() -> dict:
    """What a figure depends on: the CPU (model name, family and model numbers), its caches, the instruction
    set walloc's kernels and torch's run, the L2 size walloc blocks for, threads, and the GPU if one is visible."""
    import walloc

    info = {"cpu": device_name("cpu"), "cpu_family": _cpuinfo("cpu family"), "cpu_model": _cpuinfo("model"),
            "caches": cache_sizes(), "walloc_isa": walloc.build_info()["cpu_isa"],
            "walloc_l2_bytes": walloc.build_info()["l2_bytes"],
            "torch_isa": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
    # Caps on the instruction sets of torch's libraries (oneDNN's convolutions, MKL's products): with
    # ATEN_CPU_CAPABILITY and WALLOC_ISA, how a bench emulates an older CPU for walloc and its anchors alike.
    caps = {name: os.environ[name] for name in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS") if name in os.environ}
    if caps:
        info["isa_caps"] = caps
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def machine_line() -> str:
    """:func:`machine` in one line, for the head of a printed table."""
    m = machine()
    caches = ", ".join(f"{k} {v}" for k, v in m["caches"].items())
    return (f"{m['cpu']} (family {m['cpu_family']} model {m['cpu_model']}; {caches}), walloc {m['walloc_isa']} "
            f"(blocking for L2 {m['walloc_l2_bytes'] >> 10}K), "
            f"torch {m['torch_isa']}" + "".join(f", {k}={v}" for k, v in m.get("isa_caps", {}).items())
            + f", {m['threads']} threads" + (f", {m['gpu']}" if "gpu" in m else ""))


def device_slug(device: str) -> str:
    """File-name tag of a device: ``cpu`` or the GPU's name in lower-case words, e.g. ``nvidia-h100-80gb-hbm3``."""
    if device == "cpu":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name().lower()).strip("-")


def write_results(out_dir: Path, name: str, result: dict) -> Path:
    """Writes ``result`` to ``out_dir/name.json``, with the :func:`machine` it was measured on, and returns the
    path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps({**result, "machine": machine()}, indent=2))
    return path


def write_csv(out_dir: Path, name: str, rows: list[dict]) -> Path:
    """Writes ``rows`` (dicts with the same keys) to ``out_dir/name.csv``."""
    import csv

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A markdown table of already formatted cells, under the line of the machine it was measured on."""
    from walloc.evaluation import markdown_table

    print(f"machine: {machine_line()}")
    print(markdown_table(header, rows))
