#!/usr/bin/python3
"""Interleaved A/B timing of op configs with `hwnas bench-op`, reported as per-pair ratios.

This machine is shared and noisy (the same op's median moves 15-30 % between minutes), so two
variants are only compared interleaved, A B A B ..., and the answer is the median of the per-round
ratios B/A with its min and max. A and B differ in binary (e.g. a build against oneDNN 2.6 vs 3.2)
and/or in extra key=value words (e.g. backend=onednn vs backend=hand).

  bench/compare.py --a build/system/apps/hwnas --b build/release/apps/hwnas --rounds 5 \
      --op "linear m=3136 k=96 n=384" --op "softmax rows=9408 n=49"
  bench/compare.py --a-words backend=onednn --b-words backend=hand --op "dwconv h=56 w=56 c=96 k=7"
  bench/compare.py --a-name window --b-name NA --op "window_attention h=56 w=56 c=96 heads=3" \
      --vs "neighborhood_attention h=56 w=56 c=96 heads=3 kernel=7"

With --vs, B times a different op config than A (the n-th --vs pairs with the n-th --op).

Prints a Markdown table; B's GFLOP/s, GB/s and roofline fraction are medians over the rounds.
Standard library only (runs on Debian's /usr/bin/python3).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def bench(binary, words, threads, db):
    cmd = [binary, "bench-op", *words, "--threads", str(threads), "--json", "--db", db, "--log-level", "warn"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", default="build/release/apps/hwnas", help="binary of variant A")
    p.add_argument("--b", default="build/release/apps/hwnas", help="binary of variant B")
    p.add_argument("--a-words", default="", help="extra key=value words for A")
    p.add_argument("--b-words", default="", help="extra key=value words for B")
    p.add_argument("--a-name", default="A")
    p.add_argument("--b-name", default="B")
    p.add_argument("--op", action="append", required=True, help='"OP key=value ..." (repeatable)')
    p.add_argument("--vs", action="append", default=[], help='B runs this "OP key=value ..." instead of --op')
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    if args.vs and len(args.vs) != len(args.op):
        p.error(f"--vs given {len(args.vs)} times for {len(args.op)} --op; give one per --op or none")

    with tempfile.TemporaryDirectory() as tmp:
        db_a, db_b = str(Path(tmp) / "a.db"), str(Path(tmp) / "b.db")
        print(f"| op | {args.a_name} median ms | {args.b_name} median ms | {args.b_name}/{args.a_name} time "
              f"ratio, median [min, max] of {args.rounds} rounds | {args.b_name} GFLOP/s | {args.b_name} GB/s "
              f"| {args.b_name} roofline | {args.a_name} impl | {args.b_name} impl |")
        print("|---|---|---|---|---|---|---|---|---|")
        for index, op in enumerate(args.op):
            words = op.split()
            b_words = args.vs[index].split() if args.vs else words
            if args.vs:
                op = f"{op}` vs `{args.vs[index]}"
            ratios, a_ms, b_ms, b_runs = [], [], [], []
            for _ in range(args.rounds):
                ra = bench(args.a, words + args.a_words.split(), args.threads, db_a)
                rb = bench(args.b, b_words + args.b_words.split(), args.threads, db_b)
                a_ms.append(ra["median_ms"])
                b_ms.append(rb["median_ms"])
                b_runs.append(rb)
                ratios.append(rb["median_ms"] / ra["median_ms"])
                print(f"  {op}: {ra['median_ms']:.4f} vs {rb['median_ms']:.4f} ms", file=sys.stderr)
            med = statistics.median
            print(f"| `{op}` | {med(a_ms):.4f} | {med(b_ms):.4f} | {med(ratios):.3f} [{min(ratios):.3f}, "
                  f"{max(ratios):.3f}] | {med(r['gflops'] for r in b_runs):.1f} | "
                  f"{med(r['gbps'] for r in b_runs):.1f} | {100 * med(r['roofline_fraction'] for r in b_runs):.0f} % "
                  f"| {ra['impl']} | {rb['impl']} |", flush=True)


if __name__ == "__main__":
    main()
