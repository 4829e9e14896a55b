#!/usr/bin/python3
"""Achieved GFLOP/s of every attention mixer at the stage-1 and stage-3 shapes of a 224x224
backbone, against this machine's matmul ceiling, with the time split between the mixer's dense
projections and the rest (the attention core and its data movement).

Per round: `hwnas device --roofline` (ceilings of that round), then each mixer, then the plain
`linear` ops its projections are made of (same m, k, n), so "rest" = mixer - projections is
measured, not guessed. Reports medians and ranges over rounds (the host is noisy; see
bench/RESULTS.md).

  bench/mixer_results.py [--hwnas build/release/apps/hwnas] [--threads 2] [--rounds 3]

Standard library only (Debian's /usr/bin/python3).
"""
import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

S1 = "h=56 w=56 c=96"
S3 = "h=14 w=14 c=384"


def qkv_proj(tokens, c):
    """The linears of a mixer with a [3c, c] qkv and a [c, c] proj over `tokens` tokens."""
    return [f"linear m={tokens} k={c} n={3 * c}", f"linear m={tokens} k={c} n={c}"]


# (mixer words, stage, linear sub-ops): the settings of bench/op_registry.cpp mixer_suite().
MIXERS = [
    (f"mhsa {S1} heads=3 sr_ratio=8", 1,
     ["linear m=3136 k=96 n=96", "linear m=49 k=96 n=192", "linear m=3136 k=96 n=96"]),
    (f"mhsa {S3} heads=12 sr_ratio=2", 3,
     ["linear m=196 k=384 n=384", "linear m=49 k=384 n=768", "linear m=196 k=384 n=384"]),
    (f"window_attention {S1} heads=3 window=7 shift=3", 1, qkv_proj(3136, 96)),
    (f"window_attention {S3} heads=12 window=7 shift=3", 3, qkv_proj(196, 384)),
    (f"cswin_attention {S1} heads=2 sw=1 branches=2", 1, qkv_proj(3136, 96)),
    (f"cswin_attention {S3} heads=12 sw=7 branches=2", 3, qkv_proj(196, 384)),
    (f"neighborhood_attention {S1} heads=3 kernel=7 dilation=1", 1, qkv_proj(3136, 96)),
    (f"neighborhood_attention {S1} heads=3 kernel=7 dilation=8", 1, qkv_proj(3136, 96)),
    (f"neighborhood_attention {S3} heads=12 kernel=7 dilation=1", 3, qkv_proj(196, 384)),
    (f"neighborhood_attention {S3} heads=12 kernel=7 dilation=2", 3, qkv_proj(196, 384)),
    (f"linear_attention {S1} heads=3 feature_map=elu1", 1, qkv_proj(3136, 96)),
    (f"linear_attention {S3} heads=12 feature_map=elu1", 3, qkv_proj(196, 384)),
    (f"single_head_attention {S1} pdim=24 qk_dim=16", 1,
     ["linear m=3136 k=24 n=56", "linear m=3136 k=96 n=96"]),
    (f"single_head_attention {S3} pdim=96 qk_dim=16", 3,
     ["linear m=196 k=96 n=128", "linear m=196 k=384 n=384"]),
    (f"cascaded_group_attention {S1} heads=4 key_dim=16 window=7 kernel=5", 1,
     ["linear m=3136 k=24 n=56"] * 4 + ["linear m=3136 k=96 n=96"]),
    (f"cascaded_group_attention {S3} heads=4 key_dim=16 window=7 kernel=5", 3,
     ["linear m=196 k=96 n=128"] * 4 + ["linear m=196 k=384 n=384"]),
    (f"channel_attention {S1} heads=3", 1, qkv_proj(3136, 96)),
    (f"channel_attention {S3} heads=12", 3, qkv_proj(196, 384)),
]


def run_json(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hwnas", default="build/release/apps/hwnas")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="substring: run only the mixers whose words contain it")
    args = p.parse_args()
    common = ["--threads", str(args.threads), "--log-level", "warn"]
    mixers = [m for m in MIXERS if args.only in m[0]]
    linears = sorted({op for _, _, subs in mixers for op in subs})
    rooflines, mixer_runs, linear_ms = [], {m[0]: [] for m in mixers}, {op: [] for op in linears}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "mixers.db")
        for _ in range(args.rounds):
            rooflines.append(run_json([args.hwnas, "device", "--roofline", "--json", "--db", db, *common]))
            for words, _, _ in mixers:
                mixer_runs[words].append(run_json([args.hwnas, "bench-op", *words.split(), "--json", "--db", db, *common]))
            for op in linears:
                linear_ms[op].append(run_json([args.hwnas, "bench-op", *op.split(), "--json", "--db", db, *common]))
    med = statistics.median

    def spread(values, fmt):
        return f"{fmt.format(med(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]"

    matmul = med(r["matmul_gflops"] for r in rooflines)
    print(f"Ceilings, {args.rounds} rounds, median [min, max]: "
          + ", ".join(f"{k} {spread([r[k] for r in rooflines], '{:.0f}')}"
                      for k in ("peak_gflops", "matmul_gflops", "l2_gbps", "l3_gbps", "dram_gbps")))
    print()
    print("| mixer | stage | median ms | GFLOP/s | of matmul ceiling | projections ms (their GFLOP/s) "
          "| rest ms | rest GFLOP/s | impl |")
    print("|---|---|---|---|---|---|---|---|---|")
    for words, stage, subs in mixers:
        runs = mixer_runs[words]
        total_ms = med(r["median_ms"] for r in runs)
        total_flops = runs[0]["flops"]
        proj_ms = sum(med(r["median_ms"] for r in linear_ms[op]) for op in subs)
        proj_flops = sum(linear_ms[op][0]["flops"] for op in subs)
        rest_ms = total_ms - proj_ms
        rest_flops = total_flops - proj_flops
        rest_gflops = rest_flops / (rest_ms * 1e6) if rest_ms > 0 else float("nan")
        gflops = [r["gflops"] for r in runs]
        print(f"| `{words}` | {stage} | {spread([r['median_ms'] for r in runs], '{:.3f}')} "
              f"| {spread(gflops, '{:.0f}')} | {100 * med(gflops) / matmul:.0f} % "
              f"| {proj_ms:.3f} ({proj_flops / (proj_ms * 1e6):.0f}) | {rest_ms:.3f} | {rest_gflops:.0f} "
              f"| {runs[0]['impl']} |", flush=True)


if __name__ == "__main__":
    main()
