#!/usr/bin/python3
"""hwnas against PyTorch on whole models: swin_t and convnext_t, interleaved round by round.

The peer is Debian's PyTorch (for /usr/bin/python3) with torchvision, on whatever BLAS the system
provides. With Debian's reference BLAS, or with OpenBLAS 0.3.21 falling back to its generic kernels
on a CPU it does not recognise, torch runs ~10x below this machine's peak and the comparison means
nothing; so this script

  - sets OPENBLAS_CORETYPE=SkylakeX (or --openblas-coretype) before torch is imported, re-executing
    itself with the variable when the environment holds another value or none (an inherited
    OPENBLAS_CORETYPE=Haswell, say, runs OpenBLAS's AVX2 kernels: ~35 % slower here), and
    torch.set_num_threads(--threads),
  - prints torch's version, build configuration, threading and the BLAS library it loaded,
  - measures torch's f32 matmul GFLOP/s first and refuses to compare (exit 1, with the reason) when
    it is below --min-matmul-gflops: torch is then not on an optimised BLAS.

Then for each model and batch (224x224, f32), each round times torch's four variants in this
process - eager and torch.jit.trace + torch.jit.optimize_for_inference, each on contiguous and on
channels_last tensors, all under torch.inference_mode() - and then runs
`hwnas bench MODEL --batch B --json --threads N` as a subprocess. The round's ratio is hwnas's
median over the best torch variant's median of that round: interleaving keeps the slow drift of a
shared machine out of the ratio. Prints a Markdown table: torch best ms (and which variant), hwnas
ms, the ratio hwnas/torch as median [min, max] over the rounds, hwnas GFLOP/s and its fraction of
peak_gflops (`hwnas device --roofline --json`).

Peak resident memory (--rss-batch, default 8): each side runs alone in a fresh process (the torch
side: import, build, three forwards of the variant; the hwnas side: `hwnas bench --policy quick`),
and the child's ru_maxrss comes from os.wait4, which reports that child alone (RUSAGE_CHILDREN would
give the largest child so far). Linux carries a process's peak RSS across fork and exec, so a child
forked from this process (torch loaded: ~1.5 GiB) would report at least that; each child is therefore
started by a small launcher process (this script in --rss-launch mode, which never imports torch).

  bench/torch_compare.py --threads 2 --rounds 5                  # the issue's comparison
  bench/torch_compare.py --rounds 1 --batch 1 --no-rss --policy quick   # a smoke run

Standard library + torch/torchvision only (runs on Debian's /usr/bin/python3).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# hwnas catalog name -> torchvision builder.
MODELS = {"swin_t": "swin_t", "convnext_t": "convnext_tiny"}
VARIANTS = ("eager", "eager+channels_last", "jit", "jit+channels_last")


def ensure_openblas_coretype(coretype):
    """Re-executes this script with OPENBLAS_CORETYPE=coretype unless it already has it: OpenBLAS reads
    the variable once, when torch loads it. "keep" keeps whatever the environment holds."""
    if coretype != "keep" and os.environ.get("OPENBLAS_CORETYPE") != coretype:
        env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def loaded_blas():
    """The BLAS / LAPACK shared objects this process has mapped (what torch really calls)."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            name = os.path.basename(path)
            if path.startswith("/") and any(k in name for k in ("blas", "lapack", "mkl")):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def matmul_gflops(torch, n=1024, runs=10):
    """Best-of-runs GFLOP/s of an n x n x n f32 matmul: the best run is what the BLAS can do even when
    the machine is shared."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def build_torch(torch, torchvision, model, batch, variant, seed=0):
    """A callable running one forward of `variant` on a fixed random batch."""
    torch.manual_seed(seed)
    net = getattr(torchvision.models, MODELS[model])(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    if variant.endswith("channels_last"):
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if variant.startswith("jit"):
        with torch.no_grad():  # tracing records no autograd; inference tensors may not be traced
            net = torch.jit.optimize_for_inference(torch.jit.trace(net, x, check_trace=False))

    def forward():
        with torch.inference_mode():
            net(x)

    return forward


def time_torch(forward, warmup, min_samples, min_time_s, max_samples):
    """Median ms of `forward` after `warmup` calls: at least min_samples and min_time_s of samples."""
    for _ in range(warmup):  # the first calls of a frozen jit module also optimise it
        forward()
    samples, total = [], 0.0
    while len(samples) < max_samples and (len(samples) < min_samples or total < min_time_s):
        start = time.perf_counter()
        forward()
        dt = time.perf_counter() - start
        samples.append(dt * 1e3)
        total += dt
    return statistics.median(samples)


def hwnas_json(args, words):
    cmd = [args.hwnas, *words, "--threads", str(args.threads), "--json", "--db", args.db, "--log-level", "warn"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def rss_launch(cmd):
    """--rss-launch: runs cmd and prints its peak RSS in KiB. This process holds ~10 MiB when it forks,
    so the child's ru_maxrss is the child's own."""
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode()
    if code != 0:
        print(f"{' '.join(cmd)} exited {code}: {err.strip()[-500:]}", file=sys.stderr)
        return 1
    print(usage.ru_maxrss)  # Linux reports KiB
    return 0


def peak_rss_mib(cmd):
    """Peak resident set (MiB) of cmd run to completion, through the launcher (see the module doc)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rss-launch", *cmd],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return int(out.stdout) / 1024


def rss_child(args):
    """--rss-child: what the torch side of the memory comparison runs, alone in its process."""
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    forward = build_torch(torch, torchvision, args.rss_child, args.rss_batch, args.rss_variant)
    for _ in range(3):
        forward()


def fmt_ratio(ratios):
    return f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]"


def main():
    if sys.argv[1:2] == ["--rss-launch"]:  # before anything else: the launcher must stay small
        return rss_launch(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hwnas", default=str(REPO / "build" / "release" / "apps" / "hwnas"), help="the hwnas binary")
    p.add_argument("--threads", type=int, default=2, help="threads of both sides (torch.set_num_threads)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per model and batch")
    p.add_argument("--batch", type=int, action="append", help="batch sizes (repeatable; default 1 and 8)")
    p.add_argument("--model", action="append", choices=sorted(MODELS), help="models (default both)")
    p.add_argument("--policy", default="default", help="hwnas bench --policy (quick for smoke runs)")
    p.add_argument("--min-matmul-gflops", type=float, default=50.0,
                   help="refuse to compare when torch's best 1024^3 matmul is slower than this")
    p.add_argument("--peak-gflops", type=float, help="skip `hwnas device --roofline` and use this peak")
    p.add_argument("--torch-warmup", type=int, default=3)
    p.add_argument("--torch-min-samples", type=int, default=5)
    p.add_argument("--torch-min-time", type=float, default=1.0, help="seconds of torch samples per variant")
    p.add_argument("--torch-max-samples", type=int, default=50)
    p.add_argument("--rss-batch", type=int, default=8, help="batch of the peak-memory comparison")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-memory comparison")
    p.add_argument("--openblas-coretype", default="SkylakeX",
                   help="OPENBLAS_CORETYPE for torch; 'keep' leaves the environment's value")
    p.add_argument("--db", help="hwnas database (default: a temporary one)")
    p.add_argument("--rss-child", choices=sorted(MODELS), help=argparse.SUPPRESS)
    p.add_argument("--rss-variant", default="eager", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args()

    ensure_openblas_coretype(args.openblas_coretype)
    if args.rss_child:
        rss_child(args)
        return 0
    args.batch = args.batch or [1, 8]
    args.model = args.model or list(MODELS)

    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, python {sys.version.split()[0]}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, threads {torch.get_num_threads()}")
    print(torch.__config__.show().rstrip())
    print(torch.__config__.parallel_info().rstrip())
    gflops = matmul_gflops(torch)
    print(f"BLAS loaded: {', '.join(loaded_blas()) or 'none found in /proc/self/maps'}")
    print(f"torch f32 matmul 1024^3: {gflops:.1f} GFLOP/s (best of 10) on {args.threads} threads\n")
    if gflops < args.min_matmul_gflops:
        print(f"torch_compare: refusing to compare: torch's matmul reaches {gflops:.1f} GFLOP/s, below "
              f"--min-matmul-gflops {args.min_matmul_gflops:g}, so torch is not on an optimised BLAS (install "
              f"libopenblas0-openmp, keep OPENBLAS_CORETYPE=SkylakeX) or the machine is overloaded",
              file=sys.stderr)
        return 1
    if not Path(args.hwnas).is_file():
        print(f"torch_compare: no hwnas binary at {args.hwnas} (build it, or give --hwnas)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        args.db = args.db or str(Path(tmp) / "compare.db")
        peak = args.peak_gflops
        if peak is None:
            device = hwnas_json(args, ["device", "--roofline"])
            peak = device["peak_gflops"]
            print(f"hwnas device --roofline: peak_gflops {peak:.1f}, matmul_gflops {device['matmul_gflops']:.1f} "
                  f"on {args.threads} threads ({device['cpu_model']})\n")

        rows = []
        for model in args.model:
            for batch in args.batch:
                variants = {}
                for variant in VARIANTS:
                    try:
                        variants[variant] = build_torch(torch, torchvision, model, batch, variant)
                    except Exception as e:  # a variant torch cannot build is reported, not fatal
                        print(f"  {model} batch {batch}: torch {variant} unavailable: {e}", file=sys.stderr)
                torch_best, hwnas_ms, ratios, runs, wins = [], [], [], [], []
                for r in range(args.rounds):
                    times = {v: time_torch(f, args.torch_warmup, args.torch_min_samples, args.torch_min_time,
                                           args.torch_max_samples) for v, f in variants.items()}
                    best = min(times, key=times.get)
                    run = hwnas_json(args, ["bench", model, "--batch", str(batch), "--policy", args.policy])
                    torch_best.append(times[best])
                    wins.append(best)
                    hwnas_ms.append(run["median_ms"])
                    runs.append(run)
                    ratios.append(run["median_ms"] / times[best])
                    detail = ", ".join(f"{v} {t:.1f}" for v, t in times.items())
                    print(f"  {model} batch {batch} round {r + 1}/{args.rounds}: torch [{detail}] ms; "
                          f"hwnas {run['median_ms']:.1f} ms; ratio {ratios[-1]:.3f}", file=sys.stderr, flush=True)
                gf = statistics.median(run["gflops"] for run in runs)
                rows.append((model, batch, statistics.median(torch_best), max(set(wins), key=wins.count),
                             statistics.median(hwnas_ms), fmt_ratio(ratios), gf, gf / peak))
                del variants

        print(f"| model | batch | torch best ms (variant) | hwnas ms | hwnas/torch, median [min, max] of "
              f"{args.rounds} rounds | hwnas GFLOP/s | % of peak ({peak:.0f} GFLOP/s) |")
        print("|---|---|---|---|---|---|---|")
        for model, batch, t_ms, variant, h_ms, ratio, gf, frac in rows:
            print(f"| {model} | {batch} | {t_ms:.1f} ({variant}) | {h_ms:.1f} | {ratio} | {gf:.1f} | {100 * frac:.0f} % |")

        if not args.no_rss:
            print(f"\nPeak resident memory at batch {args.rss_batch} (each side alone in a fresh process):\n")
            print("| model | torch peak RSS MiB (variant) | hwnas peak RSS MiB | hwnas/torch |")
            print("|---|---|---|---|")
            for model in args.model:
                torch_rss = {}
                for variant in VARIANTS:
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", model, "--rss-variant",
                           variant, "--rss-batch", str(args.rss_batch), "--threads", str(args.threads)]
                    try:
                        torch_rss[variant] = peak_rss_mib(cmd)
                    except RuntimeError as e:
                        print(f"  {model}: torch {variant} peak RSS unavailable: {e}", file=sys.stderr)
                hwnas_rss = peak_rss_mib([args.hwnas, "bench", model, "--batch", str(args.rss_batch), "--policy",
                                          "quick", "--threads", str(args.threads), "--db", args.db,
                                          "--log-level", "warn"])
                lowest = min(torch_rss, key=torch_rss.get)
                print(f"| {model} | {torch_rss[lowest]:.0f} ({lowest}; "
                      + ", ".join(f"{v} {m:.0f}" for v, m in torch_rss.items())
                      + f") | {hwnas_rss:.0f} | {hwnas_rss / torch_rss[lowest]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
