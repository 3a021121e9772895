"""The Python side of bench/predict: the same full-scene segmentation as `xp predict` — the same
UNet weights (an `xp export --names xp` safetensors file, read with json + struct), windows of the
same size and overlap, the same raised-cosine blending, batch size and threads — written the way a
PyTorch user would (torch + torchvision.io). Prints `python <Mpx/s> <seconds>` for the sliding
window (the PNG decode before it is not timed, nor one forward pass of a batch of zeros before the
first window: on a GPU the first pass loads the kernels, a fixed cost xp also pays before its clock
starts).

    python3 sliding_window.py WEIGHTS.safetensors SCENE.png --window 512 --overlap 0.25 --batch 8
        --depth 3 --base-width 16 --threads 2 [--device cpu|cuda] [--out prob.pt] [--cudnn-benchmark]
"""
import argparse
import json
import math
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.io

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        b, t = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:t]), dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def conv_block(i, o):  # plugins/segmentation/unet_blocks.cpp, batch_norm = true
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                         nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class UNet(nn.Module):  # plugins/segmentation/unet.cpp, upsample = bilinear; the same module names
    def __init__(self, in_channels=3, out_channels=1, depth=3, base=16):
        super().__init__()
        self.depth = depth
        self.encoder = nn.Module()
        for level in range(depth + 1):
            setattr(self.encoder, "stage%d" % level,
                    conv_block(in_channels if level == 0 else base << (level - 1), base << level))
        self.decoder = nn.Module()
        for level in range(depth - 1, -1, -1):
            setattr(self.decoder, "block%d" % level, conv_block((base << (level + 1)) + (base << level), base << level))
        self.head = nn.Conv2d(base, out_channels, 1)

    def forward(self, x):
        features = []
        h = x
        for level in range(self.depth + 1):
            if level > 0:
                h = F.max_pool2d(h, 2)
            h = getattr(self.encoder, "stage%d" % level)(h)
            features.append(h)
        h = features[-1]
        for level in range(self.depth - 1, -1, -1):
            skip = features[level]
            h = F.interpolate(h, size=skip.shape[2:], mode="bilinear", align_corners=False)
            h = getattr(self.decoder, "block%d" % level)(torch.cat([h, skip], 1))
        return self.head(h)


def origins(length, window, overlap):
    if length <= window:
        return [0]
    stride = max(1, int(math.floor(window * (1 - overlap))))
    out = list(range(0, length - window, stride))
    return out + [length - window]


def hann(n):
    i = torch.arange(n, dtype=torch.float64) + 0.5
    return (0.5 - 0.5 * torch.cos(2 * math.pi * i / n)).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("scene")
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--overlap", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--base-width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms")
    ap.add_argument("--model-only", action="store_true",
                    help="time only the forward passes: as many windows, one batch already on the device")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    dev = torch.device(a.device)
    model = UNet(depth=a.depth, base=a.base_width)
    model.load_state_dict(load_safetensors(a.weights), strict=True)
    model.eval().to(dev)
    scene = torchvision.io.read_image(a.scene)  # uint8 [3, H, W]
    _, H, W = scene.shape
    win = a.window
    weight = torch.outer(hann(win), hann(win)).to(dev)
    weight_cpu = weight.cpu()
    if a.model_only:
        n = len(origins(H, win, a.overlap)) * len(origins(W, win, a.overlap))
        x = (scene[:, :win, :win].unsqueeze(0).expand(a.batch, -1, -1, -1).to(dev).float() / 255.0).contiguous()
        with torch.no_grad():
            torch.sigmoid(model(x))
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for b in range(0, n, a.batch):
                torch.sigmoid(model(x[:min(a.batch, n - b)]))
            if dev.type == "cuda":
                torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        print("python %.4f %.3f" % (H * W / 1e6 / seconds, seconds))
        return
    with torch.no_grad():  # warm-up, untimed (xp does the same while it decodes the scene)
        model(torch.zeros(a.batch, scene.shape[0], win, win, device=dev)).sum().item()
    start = time.perf_counter()
    prob = torch.zeros(H, W)
    wsum = torch.zeros(H, W)
    jobs = [(y, x) for y in origins(H, win, a.overlap) for x in origins(W, win, a.overlap)]
    with torch.no_grad():
        for b in range(0, len(jobs), a.batch):
            chunk = jobs[b:b + a.batch]
            x = torch.stack([scene[:, y:y + win, x:x + win] for y, x in chunk]).to(dev).float() / 255.0
            p = (torch.sigmoid(model(x)[:, 0]) * weight).cpu()
            for (y, x0), q in zip(chunk, p):
                prob[y:y + win, x0:x0 + win] += q
                wsum[y:y + win, x0:x0 + win] += weight_cpu
    prob /= wsum
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if a.out:
        torch.save(prob, a.out)
    print("python %.4f %.3f" % (H * W / 1e6 / seconds, seconds))


if __name__ == "__main__":
    main()
