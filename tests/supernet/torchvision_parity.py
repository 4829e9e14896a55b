#!/usr/bin/python3
"""Reference weights and logits from torchvision for hwnas's parity test (tests/supernet/parity_test.cpp).

    /usr/bin/python3 tests/supernet/torchvision_parity.py swin_t OUT_DIR [--seed 5] [--dump]

Builds torchvision.models.swin_t or convnext_tiny (weights=None), re-randomises every parameter from
a seeded generator so that no branch is negligible, runs a fixed random batch [2, 3, 224, 224] in
eval mode and writes, under OUT_DIR:
    <model>.safetensors          every parameter under its hwnas name (docs/arch.md "Weight names"),
                                 PyTorch layouts (Linear [out, in], Conv2d OIHW)
    <model>_input.safetensors    "images": the batch, NHWC [2, 224, 224, 3]
    <model>_logits.safetensors   "logits": [2, 1000]
With --dump also <model>_intermediates.safetensors: the output of the stem, of every downsample and
of every block, NHWC, named as hwnas names the layers ("stem", "stages.1.downsample",
"stages.1.blocks.0"), for finding the first layer that differs.

torchvision's own initialisation would hide whole branches from the comparison: ConvNeXt's layer
scale starts at 1e-6 (the block contributes nothing), Swin's relative-position table at std 0.02 and
its MLP biases at 1e-6. Hence: matrices and conv kernels normal with std 1/sqrt(fan_in) (activations
stay O(1) through the depth), norm scales and layer scales uniform [0.5, 1.5], every bias uniform
[-0.5, 0.5], relative-position tables uniform [-1, 1] (the same order as q.k / sqrt(d), so the bias
moves the softmax visibly); then the convs that feed a LayerNorm (the stem, ConvNeXt's depthwise
convs) are scaled by 1e-2 so that the norm's eps shows in the logits (EPS_PROBE). Exits non-zero
naming the parameter if any parameter has no hwnas name.
"""

import argparse
import json
import os
import re
import struct
import sys

# OpenBLAS 0.3.21 does not recognise this CPU and falls back to generic kernels without this; it is
# read when the library loads, so before torch is imported. Speed only: the results do not depend on
# it (within rounding). Only where the CPU has AVX-512, which the SkylakeX kernels execute.
def _has_avx512f():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


if _has_avx512f():
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"

import torch  # noqa: E402
import torchvision  # noqa: E402

BATCH = 2
RESOLUTION = 224


# --- names -----------------------------------------------------------------------------------------
# torchvision's module paths -> hwnas names. Each model's stages sit in `features` as
# [stem, stage 0, downsample 1, stage 1, downsample 2, stage 2, downsample 3, stage 3].

def _stage_of_feature(i):
    """features index (>= 1) -> (stage, is_downsample)."""
    return (i // 2, i % 2 == 0)


def swin_t_name(tv):
    m = re.fullmatch(r"features\.0\.0\.(weight|bias)", tv)
    if m:
        return f"stem.convs.0.{m[1]}"
    m = re.fullmatch(r"features\.0\.2\.(weight|bias)", tv)
    if m:
        return f"stem.norm.{m[1]}"
    m = re.fullmatch(r"features\.(\d+)\.(norm\.weight|norm\.bias|reduction\.weight)", tv)
    if m:
        stage, down = _stage_of_feature(int(m[1]))
        return f"stages.{stage}.downsample.{m[2]}" if down else None
    m = re.fullmatch(r"features\.(\d+)\.(\d+)\.(.+)", tv)
    if m:
        stage, down = _stage_of_feature(int(m[1]))
        if down:
            return None
        prefix = f"stages.{stage}.blocks.{m[2]}"
        rest = m[3]
        # A Swin block is a metaformer frame: unit 0 = [norm1, attn], unit 1 = [norm2, mlp].
        table = {
            "norm1.weight": "0.norm.weight",
            "norm1.bias": "0.norm.bias",
            "attn.qkv.weight": "0.mixer.window_attention.qkv.weight",
            "attn.qkv.bias": "0.mixer.window_attention.qkv.bias",
            "attn.proj.weight": "0.mixer.window_attention.proj.weight",
            "attn.proj.bias": "0.mixer.window_attention.proj.bias",
            "attn.relative_position_bias_table":
                "0.mixer.window_attention.relative_position_bias_table",
            "norm2.weight": "1.norm.weight",
            "norm2.bias": "1.norm.bias",
            # torchvision.ops.MLP: [Linear, GELU, Dropout, Linear, Dropout]
            "mlp.0.weight": "1.mlp.fc1.weight",
            "mlp.0.bias": "1.mlp.fc1.bias",
            "mlp.3.weight": "1.mlp.fc2.weight",
            "mlp.3.bias": "1.mlp.fc2.bias",
        }
        return f"{prefix}.{table[rest]}" if rest in table else None
    m = re.fullmatch(r"norm\.(weight|bias)", tv)
    if m:
        return f"head.norm.{m[1]}"
    m = re.fullmatch(r"head\.(weight|bias)", tv)
    if m:
        return f"head.fc.{m[1]}"
    return None


def convnext_tiny_name(tv):
    m = re.fullmatch(r"features\.0\.0\.(weight|bias)", tv)
    if m:
        return f"stem.convs.0.{m[1]}"
    m = re.fullmatch(r"features\.0\.1\.(weight|bias)", tv)
    if m:
        return f"stem.norm.{m[1]}"
    m = re.fullmatch(r"features\.(\d+)\.([01])\.(weight|bias)", tv)
    if m and _stage_of_feature(int(m[1]))[1]:
        # downsample: Sequential(LayerNorm2d, Conv2d k=2 s=2)
        stage = _stage_of_feature(int(m[1]))[0]
        return f"stages.{stage}.downsample.{'norm' if m[2] == '0' else 'proj'}.{m[3]}"
    m = re.fullmatch(r"features\.(\d+)\.(\d+)\.(.+)", tv)
    if m:
        stage, down = _stage_of_feature(int(m[1]))
        if down:
            return None
        prefix = f"stages.{stage}.blocks.{m[2]}.0"  # metanext: one unit [dwconv, norm, mlp]
        rest = m[3]
        # CNBlock.block: [Conv2d dw7, Permute, LayerNorm, Linear, GELU, Linear, Permute]
        table = {
            "block.0.weight": "mixer.dwconv.dwconv.weight",
            "block.0.bias": "mixer.dwconv.dwconv.bias",
            "block.2.weight": "norm.weight",
            "block.2.bias": "norm.bias",
            "block.3.weight": "mlp.fc1.weight",
            "block.3.bias": "mlp.fc1.bias",
            "block.5.weight": "mlp.fc2.weight",
            "block.5.bias": "mlp.fc2.bias",
            "layer_scale": "layer_scale.gamma",
        }
        return f"{prefix}.{table[rest]}" if rest in table else None
    m = re.fullmatch(r"classifier\.0\.(weight|bias)", tv)
    if m:
        return f"head.norm.{m[1]}"
    m = re.fullmatch(r"classifier\.2\.(weight|bias)", tv)
    if m:
        return f"head.fc.{m[1]}"
    return None


MODELS = {
    "swin_t": (torchvision.models.swin_t, swin_t_name),
    "convnext_tiny": (torchvision.models.convnext_tiny, convnext_tiny_name),
}
# Buffers that are functions of the configuration, not weights (hwnas derives them too).
DERIVED_BUFFERS = re.compile(r".*\.relative_position_index")


# --- randomisation ---------------------------------------------------------------------------------

# Convs followed by a LayerNorm, scaled down so that the norm's eps matters: the patchify conv of
# both models and ConvNeXt's depthwise convs (CNBlock: dwconv -> LayerNorm).
EPS_PROBE = re.compile(r"features\.0\.0\.(weight|bias)|features\.\d+\.\d+\.block\.0\.(weight|bias)")
EPS_PROBE_SCALE = 1e-2

def randomise(model, generator):
    """Every parameter redrawn (see the module docstring); returns {tv name: kind} for the report."""
    norm_scales = set()
    for mod_name, mod in model.named_modules():
        if isinstance(mod, (torch.nn.LayerNorm, torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
            if getattr(mod, "weight", None) is not None:
                norm_scales.add(f"{mod_name}.weight")
    kinds = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                kind = "table"
                p.copy_(torch.rand(p.shape, generator=generator) * 2 - 1)
            elif name in norm_scales or name.endswith("layer_scale"):
                kind = "scale"
                p.copy_(torch.rand(p.shape, generator=generator) + 0.5)
            elif p.dim() >= 2:
                kind = "matrix"
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / fan_in**0.5)
            elif name.endswith("bias"):
                kind = "bias"
                p.copy_(torch.rand(p.shape, generator=generator) - 0.5)
            else:
                sys.exit(f"torchvision_parity: no randomisation rule for parameter {name} {list(p.shape)}")
            kinds[name] = kind
        # The LayerNorm after each of these convs then sees a variance ~1e-4, where its eps (Swin
        # 1e-5, ConvNeXt 1e-6) moves its output by ~5 %: at O(1) variance a wrong eps would change
        # the logits by ~5e-6, invisible under the test's 1e-4 bound.
        for name, p in model.named_parameters():
            if EPS_PROBE.fullmatch(name):
                p.mul_(EPS_PROBE_SCALE)
                kinds[name] = "eps-probe " + kinds[name]
    return kinds


# --- safetensors -----------------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata=None):
    """The format: u64 LE header length, JSON header (padded with spaces to 8 bytes), F32 LE data."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# --- main ------------------------------------------------------------------------------------------

def hwnas_weights(model, model_name, to_hwnas):
    out = {}
    unmapped = []
    for name, p in model.named_parameters():
        hw = to_hwnas(name)
        if hw is None:
            unmapped.append(f"{name} {list(p.shape)}")
            continue
        if hw in out:
            sys.exit(f"torchvision_parity: {model_name}: two parameters map to {hw}")
        t = p.detach()
        if name.endswith("layer_scale"):
            t = t.reshape(-1)  # CNBlock keeps gamma as [c, 1, 1] to broadcast over NCHW
        out[hw] = t
    for name, b in model.named_buffers():
        if not DERIVED_BUFFERS.fullmatch(name):
            unmapped.append(f"buffer {name} {list(b.shape)}")
    if unmapped:
        sys.exit(f"torchvision_parity: {model_name}: no hwnas name for: " + ", ".join(unmapped))
    return out


def register_dumps(model, model_name, dumps):
    """Forward hooks on the stem, downsamples and blocks, recording outputs in NHWC."""
    nchw = model_name == "convnext_tiny"  # ConvNeXt's features run NCHW, Swin's NHWC after the stem

    def hook(name):
        def record(_module, _inputs, output):
            dumps[name] = output.permute(0, 2, 3, 1) if nchw else output
        return record

    for i, feature in enumerate(model.features):
        if i == 0:
            feature.register_forward_hook(hook("stem"))
            continue
        stage, down = _stage_of_feature(i)
        if down:
            feature.register_forward_hook(hook(f"stages.{stage}.downsample"))
        else:
            for b, block in enumerate(feature):
                block.register_forward_hook(hook(f"stages.{stage}.blocks.{b}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--dump", action="store_true", help="also write every layer's output")
    args = parser.parse_args()

    torch.set_num_threads(2)
    print(f"torch {torch.__version__} torchvision {torchvision.__version__} threads={torch.get_num_threads()} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print(torch.__config__.show().strip())

    build, to_hwnas = MODELS[args.model]
    # torchvision's trunc_normal_ initialisation costs ~4 s (erfinv on the CPU) and randomise()
    # overwrites every parameter anyway.
    trunc_normal = torch.nn.init.trunc_normal_
    torch.nn.init.trunc_normal_ = lambda tensor, *a, **k: tensor
    try:
        model = build(weights=None)
    finally:
        torch.nn.init.trunc_normal_ = trunc_normal
    generator = torch.Generator().manual_seed(args.seed)
    kinds = randomise(model, generator)
    model.eval()
    weights = hwnas_weights(model, args.model, to_hwnas)

    images = torch.randn((BATCH, 3, RESOLUTION, RESOLUTION), generator=generator)
    dumps = {}
    if args.dump:
        register_dumps(model, args.model, dumps)
    with torch.no_grad():
        logits = model(images)

    os.makedirs(args.out_dir, exist_ok=True)
    meta = {"model": args.model, "seed": args.seed, "torch": torch.__version__,
            "torchvision": torchvision.__version__}
    base = os.path.join(args.out_dir, args.model)
    write_safetensors(base + ".safetensors", weights, meta)
    write_safetensors(base + "_input.safetensors", {"images": images.permute(0, 2, 3, 1)}, meta)
    write_safetensors(base + "_logits.safetensors", {"logits": logits}, meta)
    if args.dump:
        write_safetensors(base + "_intermediates.safetensors", dumps, meta)

    counts = {k: sum(1 for v in kinds.values() if v == k) for k in sorted(set(kinds.values()))}
    params = sum(t.numel() for t in weights.values())
    print(f"{args.model}: seed={args.seed} tensors={len(weights)} params={params} {counts} "
          f"logits max|.|={logits.abs().max().item():.4g} std={logits.std().item():.4g} -> {base}*.safetensors")


if __name__ == "__main__":
    main()
