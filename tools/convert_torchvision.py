"""Convert torchvision checkpoints to safetensors for vidcompare.

vidcompare loads .safetensors directly, and zip-format .pth files (torch >= 1.6) through candle's
pickle reader. Older pickle-only checkpoints, or torchvision's own weight enums, go through this
script. Needs torch and torchvision (and the `safetensors` package).

  # torchvision's pretrained weights (downloads them unless they are in TORCH_HOME already):
  python3 tools/convert_torchvision.py --model efficientnet_b0 --out weights/efficientnet_b0.safetensors
  python3 tools/convert_torchvision.py --model r3d_18 --out weights/r3d_18.safetensors
  # a checkpoint file you already have (a state_dict, or a dict holding one under "state_dict"):
  python3 tools/convert_torchvision.py --pth r3d_18-b3b3357e.pth --out weights/r3d_18.safetensors

Then run with `--set weights_efficientnet=weights/efficientnet_b0.safetensors` and
`--set weights_r3d=weights/r3d_18.safetensors`. Tensor names stay torchvision's; vidcompare maps
them (efficientnet_b0's `features.*` go under the notebook's `backbone.`, the ImageNet / Kinetics
classifiers are dropped because the notebook replaces them).
"""
import argparse
import sys

import torch


def state_dict_from_model(name):
    import torchvision

    if name == "efficientnet_b0":
        m = torchvision.models.efficientnet_b0(weights=torchvision.models.EfficientNet_B0_Weights.DEFAULT)
    elif name == "r3d_18":
        m = torchvision.models.video.r3d_18(weights=torchvision.models.video.R3D_18_Weights.DEFAULT)
    else:
        sys.exit(f"unknown model {name!r}: expected efficientnet_b0 or r3d_18")
    return m.state_dict()


def state_dict_from_file(path):
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        sys.exit(f"{path}: not a state_dict")
    return obj


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", choices=["efficientnet_b0", "r3d_18"])
    src.add_argument("--pth")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sd = state_dict_from_model(args.model) if args.model else state_dict_from_file(args.pth)
    tensors = {
        k.removeprefix("module."): v.detach().to(torch.float32).contiguous()
        for k, v in sd.items()
        if torch.is_tensor(v) and not k.endswith("num_batches_tracked")
    }
    from safetensors.torch import save_file

    save_file(tensors, args.out, metadata={"source": args.model or args.pth})
    n = sum(t.numel() for t in tensors.values())
    print(f"wrote {args.out}: {len(tensors)} tensors, {n} values")


if __name__ == "__main__":
    main()
