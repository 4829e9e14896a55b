#!/usr/bin/python3
"""Where the time of the conv / modulation mixers of issue 4 goes: focal_modulation, gnconv and
inception_dwconv at the four stage shapes of a 224x224 backbone, each split into the sub-ops its
implementation runs, plus the depthwise conv's kernel-size sweep and its dilated cases.

Per round: `hwnas device --roofline` (ceilings of that round), then each mixer followed by its
sub-ops run as standalone `hwnas bench-op` ops with the shapes the mixer uses (read from
kernels/mixers/{focal_modulation,gnconv,inception_dwconv}.cpp and kernels/cpu/modulation_passes.cpp),
then the dwconv mixer at 56x56x96 for k = 3..13, then the dilated dwconv cases with backend=hand and
backend=onednn back to back (interleaved, so their ratio is taken within a round). Reports medians
and [min, max] over rounds (the host is noisy; see bench/RESULTS.md).

The sub-ops are the unfused equivalent of each mixer: where the mixer fuses several steps into one
hand pass (focal's GELU + gating, the global mean folded into the last level, q * (mod + gate * hg)),
each step is timed as its own eltwise / binary / pool op over the same element count, so
"unexplained" = mixer - sum(sub-ops) is negative where fusion saves passes, and positive where the
mixer pays for something no sub-op shows (strided slices, thread start-up between steps).

  bench/conv_mixer_results.py [--hwnas build/release/apps/hwnas] [--threads 2] [--rounds 3]
                              [--only SUBSTRING]

--only keeps the mixers and dwconv cases whose words contain SUBSTRING (e.g. `--only inception`,
`--only gnconv`, `--only "k=3 dilation=1"`); the sub-ops follow their mixers.
Standard library only (Debian's /usr/bin/python3).
"""
import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

# Stage shapes of backbone_suite() / mixer_suite() (bench/op_registry.cpp): (stage, side, c).
STAGES = [(1, 56, 96), (2, 28, 192), (3, 14, 384), (4, 7, 768)]

MATMUL, DWCONV, PASSES = "matmul/linear", "depthwise conv", "elementwise/memory passes"
CLASSES = [MATMUL, DWCONV, PASSES]
CLASS_OF = {"linear": MATMUL, "matmul": MATMUL, "conv2d": DWCONV, "dwconv": DWCONV,
            "eltwise": PASSES, "binary": PASSES, "global_avg_pool": PASSES, "pool": PASSES,
            "permute": PASSES}


def linear(m, k, n, bias=1):
    return f"linear m={m} k={k} n={n} bias={bias}"


def depthwise(side, c, kh, kw, bias=1, backend="auto"):
    """A 'same'-padded depthwise conv2d on [1, side, side, c], as the mixers build their Conv2dDesc."""
    return (f"conv2d h={side} w={side} ic={c} oc={c} groups={c} kh={kh} kw={kw} "
            f"pad_h={kh // 2} pad_w={kw // 2} bias={bias} backend={backend}")


def gelu(numel):
    return f"eltwise numel={numel} act=gelu_erf"


def binary(alg, side, c, src1):
    return f"binary alg={alg} h={side} w={side} c={c} src1={src1}"


def focal_modulation(side, c, level=2, window=3, factor=2):
    """kernels/mixers/focal_modulation.cpp, FocalModulationPlan::create / run; the passes of
    kernels/cpu/modulation_passes.cpp. FocalNet-T: focal_level=2, focal_window=3 (kernels 3, 5)."""
    t = side * side
    subs = [("f: q and the L+1 gates (f rows 0..c, 2c..2c+L+1)", linear(t, c, c + level + 1)),
            ("f: ctx (f rows c..2c)", linear(t, c, c))]
    for lv in range(level):
        k = factor * lv + window
        subs += [(f"level {lv}: depthwise {k}x{k}, no bias", depthwise(side, c, k, k, bias=0)),
                 (f"level {lv}: GELU (focal_level pass)", gelu(t * c)),
                 (f"level {lv}: ctx * gate[token] (focal_level pass)", binary("mul", side, c, "nhw"))]
        if lv > 0:
            subs.append((f"level {lv}: ctx_all += (focal_level pass)", binary("add", side, c, "nhwc")))
    subs += [("global: mean over tokens (summed inside the last focal_level pass)",
              f"global_avg_pool h={side} w={side} c={c}"),
             ("global: GELU of the mean", gelu(c)),
             ("global: W_h . glob (scalar loop in run())", linear(1, c, c, bias=0)),
             ("h: 1x1 modulator", linear(t, c, c)),
             ("mod + gate[token] * hg (focal_modulate pass)", binary("add", side, c, "c")),
             ("q * modulator (focal_modulate pass)", binary("mul", side, c, "nhwc")),
             ("proj", linear(t, c, c))]
    return f"focal_modulation h={side} w={side} c={c} focal_level={level} focal_window={window}", subs


def gnconv(side, c, order, kernel=7):
    """kernels/mixers/gnconv.cpp, GnconvPlan::create / run: dims[i] = c >> (order-1-i), the
    depthwise conv over sum(dims) channels (scale folded into its weights), the products as
    ModulationPasses::multiply. HorNet-T: order 2, 3, 4, 5 by stage, kernel 7."""
    t = side * side
    dims = [c >> (order - 1 - i) for i in range(order)]
    total = sum(dims)
    subs = [(f"proj_in: a rows (n=dims[0]={dims[0]})", linear(t, c, dims[0])),
            (f"proj_in: abc rows (n=sum(dims)={total})", linear(t, c, total)),
            (f"dwconv {kernel}x{kernel} on sum(dims)={total} channels", depthwise(side, total, kernel, kernel))]
    for i, d in enumerate(dims):
        if i > 0:
            subs.append((f"pws.{i - 1}: {dims[i - 1]} -> {d}", linear(t, dims[i - 1], d)))
        subs.append((f"x *= dw slice {i} ({d} channels, multiply pass)", binary("mul", side, d, "nhwc")))
    subs.append(("proj_out", linear(t, c, c)))
    return f"gnconv h={side} w={side} c={c} order={order} kernel={kernel}", subs


def inception_dwconv(side, c, square=3, band=11, ratio=0.125):
    """kernels/mixers/inception_dwconv.cpp, InceptionDwconvPlan::create / run: gc = int(c * ratio)
    channels per branch, the identity copy of the first c - 3gc, then the three branches with the
    hand AVX-512 depthwise kernel in place on channel slices (pixel stride c; standalone here they
    run contiguous on gc channels). InceptionNeXt: square 3, band 11, ratio 0.125."""
    t = side * side
    gc = int(c * ratio)
    ident = c - 3 * gc
    subs = [(f"identity copy of {ident} channels", f"eltwise numel={t * ident} act=none"),
            (f"dwconv_hw {square}x{square} on {gc} channels", depthwise(side, gc, square, square, backend="hand")),
            (f"dwconv_w 1x{band} on {gc} channels", depthwise(side, gc, 1, band, backend="hand")),
            (f"dwconv_h {band}x1 on {gc} channels", depthwise(side, gc, band, 1, backend="hand"))]
    return (f"inception_dwconv h={side} w={side} c={c} square_kernel={square} band_kernel={band} "
            f"branch_ratio={ratio}", subs)


def mixer_suite():
    """[(mixer words, stage, [(role, sub-op words)])], mixer by mixer, stage by stage, with the
    per-stage settings of bench/op_registry.cpp mixer_suite()."""
    suite = []
    for build in (lambda side, c, stage: focal_modulation(side, c),
                  lambda side, c, stage: gnconv(side, c, order=stage + 1),
                  lambda side, c, stage: inception_dwconv(side, c)):
        for stage, side, c in STAGES:
            words, subs = build(side, c, stage)
            suite.append((words, stage, subs))
    return suite


MIXERS = mixer_suite()

DW = "dwconv h=56 w=56 c=96"
SWEEP = [f"{DW} k={k} dilation=1 backend=auto" for k in (3, 5, 7, 9, 11, 13)]
DILATED = [f"{DW} k={k} dilation={d}" for k, d in ((7, 2), (7, 3), (3, 3))]
BACKENDS = ("hand", "onednn")


def run_json(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hwnas", default="build/release/apps/hwnas")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="substring: run only the mixers / dwconv cases whose words contain it")
    args = p.parse_args()
    common = ["--threads", str(args.threads), "--log-level", "warn"]
    mixers = [m for m in MIXERS if args.only in m[0]]
    sweep = [w for w in SWEEP if args.only in w]
    dilated = [w for w in DILATED if args.only in w]
    rooflines, runs = [], {}  # runs: op words -> one bench-op JSON per round

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "conv_mixers.db")

        def bench(words, done):
            if words not in done:
                done.add(words)
                runs.setdefault(words, []).append(
                    run_json([args.hwnas, "bench-op", *words.split(), "--json", "--db", db, *common]))

        for _ in range(args.rounds):
            done = set()  # an op shared by several mixers is timed once per round
            rooflines.append(run_json([args.hwnas, "device", "--roofline", "--json", "--db", db, *common]))
            for words, _, subs in mixers:
                bench(words, done)
                for _, sub in subs:
                    bench(sub, done)
            for words in sweep:
                bench(words, done)
            for words in dilated:
                for backend in BACKENDS:
                    bench(f"{words} backend={backend}", done)
    med = statistics.median

    def spread(values, fmt):
        values = list(values)
        return f"{fmt.format(med(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]"

    def ms(words):
        return med(r["median_ms"] for r in runs[words])

    def field(words, key):
        return [r[key] for r in runs[words]]

    peak = med(r["peak_gflops"] for r in rooflines)
    print(f"Ceilings, {args.rounds} rounds, median [min, max]: "
          + ", ".join(f"{k} {spread([r[k] for r in rooflines], '{:.0f}')}"
                      for k in ("peak_gflops", "matmul_gflops", "l2_gbps", "l3_gbps", "dram_gbps")))
    if mixers:
        print()
        print("Mixers: GFLOP/s and GB/s from bench-op's cost (flops, compulsory bytes); roofline fraction as "
              "bench-op reports it against the round's ceilings. Sub-op classes: ms of the class summed over its "
              "sub-ops (share of the summed sub-op time). Unexplained = mixer - sum(sub-ops), per round "
              "(negative: the mixer's fused passes beat the unfused sub-ops).")
        print()
        print(f"| mixer | stage | median ms | GFLOP/s | GB/s | roofline fraction | sub-ops ms "
              f"| {' | '.join(CLASSES)} | unexplained ms | dominant | impl |")
        print("|---|---|---|---|---|---|---|" + "---|" * len(CLASSES) + "---|---|---|")
        for words, stage, subs in mixers:
            by_class = {k: sum(ms(s) for _, s in subs if CLASS_OF[s.split()[0]] == k) for k in CLASSES}
            total = sum(by_class.values())
            rest = [r["median_ms"] - sum(runs[s][i]["median_ms"] for _, s in subs)
                    for i, r in enumerate(runs[words])]
            cells = " | ".join(f"{v:.4f} ({100 * v / total:.0f} %)" for v in by_class.values())
            print(f"| `{words}` | {stage} | {spread(field(words, 'median_ms'), '{:.4f}')} "
                  f"| {spread(field(words, 'gflops'), '{:.0f}')} | {spread(field(words, 'gbps'), '{:.0f}')} "
                  f"| {spread((100 * v for v in field(words, 'roofline_fraction')), '{:.0f}')} % "
                  f"| {total:.4f} | {cells} | {spread(rest, '{:+.4f}')} | {max(by_class, key=by_class.get)} "
                  f"| {runs[words][0]['impl']} |")
        for words, stage, subs in mixers:
            total = sum(ms(s) for _, s in subs)
            print()
            print(f"`{words}` (stage {stage}): mixer {ms(words):.4f} ms, sub-ops {total:.4f} ms")
            print()
            print("| sub-op | bench-op words | class | median ms | share | GFLOP/s | GB/s | impl |")
            print("|---|---|---|---|---|---|---|---|")
            for role, sub in subs:
                print(f"| {role} | `{sub}` | {CLASS_OF[sub.split()[0]]} | {spread(field(sub, 'median_ms'), '{:.4f}')} "
                      f"| {100 * ms(sub) / total:.0f} % | {med(field(sub, 'gflops')):.0f} "
                      f"| {med(field(sub, 'gbps')):.0f} | {runs[sub][0]['impl']} |")
    if sweep:
        print()
        print(f"Depthwise conv mixer at 56x56x96, backend auto; % of the round's peak_gflops (median {peak:.0f}).")
        print()
        print("| op | median ms | GFLOP/s | of peak_gflops | GB/s | roofline fraction | impl |")
        print("|---|---|---|---|---|---|---|")
        for words in sweep:
            gf = field(words, "gflops")
            of_peak = [100 * r["gflops"] / rl["peak_gflops"] for r, rl in zip(runs[words], rooflines)]
            print(f"| `{words}` | {spread(field(words, 'median_ms'), '{:.4f}')} | {spread(gf, '{:.0f}')} "
                  f"| {spread(of_peak, '{:.0f}')} % | {spread(field(words, 'gbps'), '{:.0f}')} "
                  f"| {spread((100 * v for v in field(words, 'roofline_fraction')), '{:.0f}')} % "
                  f"| {runs[words][0]['impl']} |")
        k3 = SWEEP[0]
        if k3 in runs:
            r0, rl0 = runs[k3][0], rooflines[0]
            level = ("L2" if r0["bytes"] <= rl0["l2_capacity_bytes"]
                     else "L3" if r0["bytes"] <= rl0["l3_capacity_bytes"] else "DRAM")
            intensity = r0["flops"] / r0["bytes"]
            of_l2 = [100 * r["gbps"] / rl["l2_gbps"] for r, rl in zip(runs[k3], rooflines)]
            of_l3 = [100 * r["gbps"] / rl["l3_gbps"] for r, rl in zip(runs[k3], rooflines)]
            of_peak = [100 * r["gflops"] / rl["peak_gflops"] for r, rl in zip(runs[k3], rooflines)]
            ridge = {lv: med(rl["peak_gflops"] / rl[f"{lv}_gbps"] for rl in rooflines) for lv in ("l2", "l3")}
            of_level = {"L2": of_l2, "L3": of_l3}.get(level)
            if of_level is None:
                closer = "(working set beyond L3: compare with dram_gbps)"
            else:
                bound = "memory" if intensity < ridge[level.lower()] else "compute"
                closer = (f"The roofline calls it {bound}-bound at {level}; achieved, it is closer to the "
                          + (f"{level} bandwidth ceiling" if med(of_level) > med(of_peak) else "FMA peak")
                          + f" ({med(of_level):.0f} % vs {med(of_peak):.0f} %).")
            print()
            print(f"k=3: {r0['flops'] / 1e6:.1f} MFLOP over {r0['bytes'] / 1e6:.2f} MB of compulsory traffic "
                  f"(src + dst + weights; fits {level}), {intensity:.2f} FLOP/B against ridge points of "
                  f"{ridge['l2']:.2f} (L2) and {ridge['l3']:.2f} (L3) FLOP/B. Achieved "
                  f"{spread(field(k3, 'gbps'), '{:.0f}')} GB/s = {spread(of_l2, '{:.0f}')} % of l2_gbps, "
                  f"{spread(of_l3, '{:.0f}')} % of l3_gbps, while {spread(of_peak, '{:.0f}')} % of peak_gflops. "
                  f"{closer} (GB/s counts compulsory bytes only: the real traffic, halo rows re-read included, "
                  f"is higher.)")
    if dilated:
        print()
        print("Dilated depthwise conv at 56x56x96: backend=hand and backend=onednn timed back to back in each "
              "round; ratio = hand / onednn of the same round (< 1: hand faster).")
        print()
        print("| op | hand ms | onednn ms | hand / onednn | hand GFLOP/s | onednn GFLOP/s | hand impl | onednn impl |")
        print("|---|---|---|---|---|---|---|---|")
        for words in dilated:
            hand, onednn = (f"{words} backend={b}" for b in BACKENDS)
            ratio = [h["median_ms"] / o["median_ms"] for h, o in zip(runs[hand], runs[onednn])]
            print(f"| `{words}` | {spread(field(hand, 'median_ms'), '{:.4f}')} "
                  f"| {spread(field(onednn, 'median_ms'), '{:.4f}')} | {spread(ratio, '{:.2f}')} "
                  f"| {med(field(hand, 'gflops')):.0f} | {med(field(onednn, 'gflops')):.0f} "
                  f"| {runs[hand][0]['impl']} | {runs[onednn][0]['impl']} |")


if __name__ == "__main__":
    main()
