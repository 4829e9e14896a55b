#!/usr/bin/python3
"""The performance targets of bench/RESULTS.md: each listed op's achieved GFLOP/s, GB/s and roofline
fraction, next to this machine's ceilings measured in the same session.

The host is shared and its speed moves between minutes, so the script runs `rounds` rounds, each
`hwnas device --roofline` followed by every op (the op's roofline_fraction is against that round's
ceilings, which bench-op reads from the store), and reports the median and range over rounds.

  bench/results.py [--hwnas build/release/apps/hwnas] [--threads 2] [--rounds 3]

Standard library only (Debian's /usr/bin/python3).
"""
import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

# (op words, target kind, target fraction, note): "flops" = fraction of peak_gflops,
# "bandwidth" = fraction of the copy bandwidth of the cache level the working set fits in.
TARGETS = [
    ("linear m=3136 k=96 n=384", "flops", 0.65, "stage 1 MLP fc1"),
    ("linear m=784 k=192 n=768", "flops", 0.65, "stage 2 MLP fc1"),
    ("linear m=196 k=768 n=3072", "flops", 0.65, "MLP fc1 at width 768, 14x14 tokens"),
    ("linear m=49 k=768 n=3072", "flops", 0.65, "stage 4 MLP fc1"),
    ("dwconv h=56 w=56 c=96 k=7", "flops", 0.50, "ConvNeXt stage 1 depthwise 7x7"),
    ("dwconv h=14 w=14 c=384 k=7", "flops", 0.50, "ConvNeXt stage 3 depthwise 7x7"),
    ("layer_norm rows=3136 c=96", "bandwidth", 0.50, "stage 1 pre-norm"),
    ("softmax rows=9408 n=49", "bandwidth", 0.50, "192 x 49 x 49 window attention"),
    ("eltwise numel=1204224 act=gelu_erf", "bandwidth", 0.50, "GELU on 3136 x 384"),
]


def run_json(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def level_of(working_set, roofline):
    if working_set <= roofline["l2_capacity_bytes"]:
        return "L2", roofline["l2_gbps"]
    if working_set <= roofline["l3_capacity_bytes"]:
        return "L3", roofline["l3_gbps"]
    return "DRAM", roofline["dram_gbps"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hwnas", default="build/release/apps/hwnas")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    common = ["--threads", str(args.threads), "--log-level", "warn"]
    rooflines, results = [], {op: [] for op, *_ in TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "results.db")
        for _ in range(args.rounds):
            roofline = run_json([args.hwnas, "device", "--roofline", "--json", "--db", db, *common])
            rooflines.append(roofline)
            for op, kind, *_ in TARGETS:
                r = run_json([args.hwnas, "bench-op", *op.split(), "--json", "--db", db, *common])
                level, gbps = level_of(r["bytes"], roofline)
                achieved = r["gflops"] / roofline["peak_gflops"] if kind == "flops" else r["gbps"] / gbps
                results[op].append((r, level, achieved))
    med = statistics.median

    def spread(values, fmt):
        return f"{fmt.format(med(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]"

    print(f"Ceilings, {args.rounds} rounds, median [min, max]: "
          + ", ".join(f"{k} {spread([r[k] for r in rooflines], '{:.0f}')}"
                      for k in ("peak_gflops", "matmul_gflops", "l2_gbps", "l3_gbps", "dram_gbps")))
    print()
    print("| op | shape | median ms | GFLOP/s | GB/s | level | target | achieved fraction | met | impl |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for op, kind, target, note in TARGETS:
        rows = results[op]
        fractions = [a for _, _, a in rows]
        what = "of peak_gflops" if kind == "flops" else "of the level's bandwidth"
        print(f"| `{op}` | {note} | {spread([r['median_ms'] for r, _, _ in rows], '{:.4f}')} "
              f"| {spread([r['gflops'] for r, _, _ in rows], '{:.0f}')} | {spread([r['gbps'] for r, _, _ in rows], '{:.0f}')} "
              f"| {rows[0][1]} | >= {target:.0%} {what} | {spread([100 * f for f in fractions], '{:.0f}')} % "
              f"| {'yes' if med(fractions) >= target else 'no'} | {rows[0][0]['impl']} |")


if __name__ == "__main__":
    main()
