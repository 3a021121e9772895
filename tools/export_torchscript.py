#!/usr/bin/env python3
"""Export a PyTorch model to TorchScript for xp's `torchscript` model plugin.

Runs wherever Python PyTorch is installed (xp itself needs no Python). Examples:

  # a torchvision or timm model by name, with its pretrained weights, as a feature extractor
  python3 tools/export_torchscript.py resnet50 --weights DEFAULT --features -o resnet50_features.pt
  python3 tools/export_torchscript.py convnext_tiny --timm --pretrained --features -o convnext_tiny.pt

  # the built-in tiny CNN (no download): the asset shipped as experiments/assets/tiny_backbone.pt
  python3 tools/export_torchscript.py --tiny --features -o experiments/assets/tiny_backbone.pt

  # segmentation: a whole segmentation_models_pytorch model (dense logits [B, 1, H, W]) ...
  python3 tools/export_torchscript.py efficientnet-b5 --smp UnetPlusPlus --pretrained --input-size 3 256 256 -o upp_b5.pt
  # ... or an encoder's feature pyramid for xp's unet / unet_plus_plus decoder (encoder = {...})
  python3 tools/export_torchscript.py efficientnet_b5 --timm --pyramid --pretrained --input-size 3 256 256 -o b5_pyramid.pt
  python3 tools/export_torchscript.py resnet34 --smp Unet --pyramid --pretrained --input-size 3 256 256 -o r34_pyramid.pt

--features drops the classifier (torchvision: fc/classifier/head replaced by Identity; timm:
reset_classifier(0)), so the model returns pooled features [B, F] for xp to put a new head on.
The model is scripted (torch.jit.script) when possible, which keeps BatchNorm and dropout following
train()/eval(); --trace (or a model that cannot be scripted) records one forward instead, in eval
mode, so that BatchNorm always uses its running statistics and dropout is off, whatever xp's mode.
The saved file is reloaded and its output compared with the original's before anything is printed.

--smp ARCH (needs `pip install segmentation-models-pytorch`) builds smp.create_model(ARCH,
encoder_name=MODEL, classes=--classes): its forward returns dense logits at the input's size, which
xp's `torchscript` plugin checks against the mask. --pyramid exports an encoder instead, whose
forward returns the list of feature maps from fine to coarse: timm's features_only=True model
(strides 2..32), or the smp model's `encoder` (the input itself at stride 1, then strides 2..32).
smp models and their encoders need sides that are multiples of 32.
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
    if args.smp:
        import segmentation_models_pytorch as smp  # only needed for smp models

        model = smp.create_model(args.smp, encoder_name=args.model, classes=args.classes,
                                 in_channels=args.input_size[0],
                                 encoder_weights="imagenet" if args.pretrained else None)
        return model.encoder if args.pyramid else model
    if args.timm:
        import timm  # only needed for timm models

        if args.pyramid:  # a list of feature maps at strides 2, 4, 8, 16, 32
            return timm.create_model(args.model, pretrained=args.pretrained, features_only=True)
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
    p.add_argument("--smp", metavar="ARCH", help="a segmentation_models_pytorch model (Unet, UnetPlusPlus, FPN...) "
                   "whose encoder is MODEL, e.g. efficientnet-b5; --pretrained loads ImageNet encoder weights")
    p.add_argument("--classes", type=int, default=1, help="--smp: output maps (1 for binary segmentation)")
    p.add_argument("--pyramid", action="store_true", help="export the encoder's feature pyramid (timm features_only, "
                   "or the smp model's encoder) for xp's unet / unet_plus_plus")
    p.add_argument("--input-size", type=int, nargs=3, default=[3, 224, 224], metavar=("C", "H", "W"),
                   help="input size of the check (and of the trace)")
    p.add_argument("--trace", action="store_true", help="trace instead of scripting (BatchNorm frozen in eval mode)")
    p.add_argument("--seed", type=int, default=0, help="seed of the tiny CNN's random weights")
    args = p.parse_args()
    if not args.tiny and not args.model:
        p.error("name a model, or use --tiny")
    if args.pyramid and not (args.timm or args.smp):
        p.error("--pyramid needs --timm or --smp")
    if args.pyramid and args.features:
        p.error("--pyramid and --features exclude each other")

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
    if args.pyramid:
        pairs = list(zip(expected, got))
    else:
        if isinstance(expected, (tuple, list)):
            expected, got = expected[0], got[0]
        pairs = [(expected, got)]
    for e, g in pairs:
        if not torch.allclose(e, g, rtol=1e-4, atol=1e-5):
            print(f"error: the reloaded {args.output} differs from the model (max |diff| "
                  f"{(e - g).abs().max().item():.3g})", file=sys.stderr)
            return 1

    if args.pyramid:
        print(f"saved {args.output}: feature maps {[list(g.shape) for g in got]} for input {[2] + args.input_size}")
        print("xp experiment (the decoder is xp's; depth follows the maps):")
        print("[model]")
        print('plugin = "unet_plus_plus"   # or "unet"')
        print("[model.encoder]")
        print('plugin = "torchscript"')
        print(f'path = "{args.output}"')
        print(f"input_size = [{', '.join(str(v) for v in args.input_size)}]")
        return 0

    shape = list(got.shape)
    mode = "features" if args.features else "logits"
    # Dense logits [B, K, H, W] (--smp) have K maps; pooled-or-not features their channel count.
    size = shape[1] if got.dim() == 4 else shape[-1]
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
