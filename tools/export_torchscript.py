#!/usr/bin/env python3
"""Export a PyTorch model to TorchScript for xp's `torchscript` model plugin.

Runs wherever Python PyTorch is installed (xp itself needs no Python). Examples:

  # a torchvision or timm model by name, with its pretrained weights, as a feature extractor
  python3 tools/export_torchscript.py resnet50 --weights DEFAULT --features -o resnet50_features.pt
  python3 tools/export_torchscript.py convnext_tiny --timm --pretrained --features -o convnext_tiny.pt

  # the built-in tiny CNN (no download): the asset shipped as experiments/assets/tiny_backbone.pt
  python3 tools/export_torchscript.py --tiny --features -o experiments/assets/tiny_backbone.pt

--features drops the classifier (torchvision: fc/classifier/head replaced by Identity; timm:
reset_classifier(0)), so the model returns pooled features [B, F] for xp to put a new head on.
The model is scripted (torch.jit.script) when possible, which keeps BatchNorm and dropout following
train()/eval(); --trace (or a model that cannot be scripted) records one forward instead, in eval
mode, so that BatchNorm always uses its running statistics and dropout is off, whatever xp's mode.
The saved file is reloaded and its output compared with the original's before anything is printed.
"""
import argparse
import sys

import torch
import torch.nn as nn


class TinyBackbone(nn.Module):
    """Three conv3x3 + BatchNorm + ReLU blocks (16, 32, 64 channels, the last two stride 2), global
    average pooling and a linear classifier. Small enough to ship (about 100 KB), any input size."""

    def __init__(self, num_classes: int = 10):
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(block(3, 16, 1), block(16, 32, 2), block(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    @torch.jit.export
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps [B, 64, H/4, W/4] before pooling."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.forward_features(x)), 1))


def build(args: argparse.Namespace) -> nn.Module:
    if args.tiny:
        torch.manual_seed(args.seed)
        return TinyBackbone()
    if args.timm:
        import timm  # only needed for timm models

        return timm.create_model(args.model, pretrained=args.pretrained)
    import torchvision

    kwargs = {"weights": args.weights} if args.weights else {}
    return torchvision.models.get_model(args.model, **kwargs)


def drop_classifier(model: nn.Module) -> nn.Module:
    """The model returning pooled features instead of logits."""
    if hasattr(model, "reset_classifier"):  # timm
        model.reset_classifier(0)
        return model
    for name in ("fc", "classifier", "head", "heads"):
        if isinstance(getattr(model, name, None), nn.Module):
            setattr(model, name, nn.Identity())
            return model
    sys.exit(f"error: {type(model).__name__} has no fc/classifier/head to drop; export it without --features "
             "and pick a method with xp's `method` parameter, or write a small wrapper module")


def to_torchscript(model: nn.Module, example: torch.Tensor, trace: bool) -> torch.jit.ScriptModule:
    if not trace:
        try:
            return torch.jit.script(model)
        except Exception as e:  # many timm models script; some do not
            print(f"note: torch.jit.script failed ({str(e).splitlines()[0]}); tracing in eval mode instead",
                  file=sys.stderr)
    with torch.no_grad():
        return torch.jit.trace(model, example)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="torchvision model name (torchvision.models.list_models()), or timm with --timm")
    p.add_argument("-o", "--output", required=True, help="the .pt file to write")
    p.add_argument("--tiny", action="store_true", help="the built-in tiny CNN (no download)")
    p.add_argument("--timm", action="store_true", help="the model is a timm model name")
    p.add_argument("--weights", help="torchvision weights, e.g. DEFAULT or IMAGENET1K_V2 (default: random init)")
    p.add_argument("--pretrained", action="store_true", help="timm: load pretrained weights")
    p.add_argument("--features", action="store_true", help="drop the classifier: output pooled features [B, F]")
    p.add_argument("--input-size", type=int, nargs=3, default=[3, 224, 224], metavar=("C", "H", "W"),
                   help="input size of the check (and of the trace)")
    p.add_argument("--trace", action="store_true", help="trace instead of scripting (BatchNorm frozen in eval mode)")
    p.add_argument("--seed", type=int, default=0, help="seed of the tiny CNN's random weights")
    args = p.parse_args()
    if not args.tiny and not args.model:
        p.error("name a model, or use --tiny")

    model = build(args)
    if args.features:
        model = drop_classifier(model)
    model.eval()
    example = torch.rand(2, *args.input_size)
    scripted = to_torchscript(model, example, args.trace)
    scripted.save(args.output)

    # Reload and compare, so a file that does not reproduce the model is never handed to xp.
    reloaded = torch.jit.load(args.output)
    reloaded.eval()
    with torch.no_grad():
        expected = model(example)
        got = reloaded(example)
    if isinstance(expected, (tuple, list)):
        expected, got = expected[0], got[0]
    if not torch.allclose(expected, got, rtol=1e-4, atol=1e-5):
        print(f"error: the reloaded {args.output} differs from the model (max |diff| "
              f"{(expected - got).abs().max().item():.3g})", file=sys.stderr)
        return 1

    shape = list(got.shape)
    mode = "features" if args.features else "logits"
    size = got.flatten(2).mean(2).shape[1] if got.dim() == 4 else shape[-1]
    print(f"saved {args.output}: output {shape} for input {[2] + args.input_size}; "
          f"{'feature size' if args.features else 'classes'}: {size}")
    print("xp experiment:")
    print("[model]")
    print('plugin = "torchscript"')
    print(f'path = "{args.output}"')
    print(f'mode = "{mode}"')
    print(f"input_size = [{', '.join(str(v) for v in args.input_size)}]")
    if not args.features:
        print(f"num_classes = {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
