"""The Python side of bench/train: the same models as xp's simple_cnn and resnet plugins, trained
for a fixed number of steps on in-memory data with the same batch size, optimizer and threads.

Prints one line per model: `python <model> <steps/s>`.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SimpleCnn(nn.Module):
    # plugins/vision/simple_cnn.cpp with its defaults (channels 32/64, hidden 128, dropout 0.25).
    def __init__(self, in_channels=1, classes=10):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.backbone = nn.Sequential(block(in_channels, 32), block(32, 64))
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
                                  nn.Linear(128, classes))

    def forward(self, x):
        x = self.backbone(x)
        if x.shape[-2:] != (7, 7):  # as the plugin: the identity pooling is skipped
            x = F.adaptive_avg_pool2d(x, (7, 7))
        return self.head(x.flatten(1))


class Block(nn.Module):
    def __init__(self, i, w, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(i, w, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.downsample = None
        if stride != 1 or i != w:
            self.downsample = nn.Sequential(nn.Conv2d(i, w, 1, stride, bias=False), nn.BatchNorm2d(w))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    # plugins/vision/resnet.cpp: depth 18, small_input (3x3 stride-1 stem), a width multiplier.
    def __init__(self, width=0.25, in_channels=3, classes=10):
        super().__init__()
        c = max(1, round(64 * width))
        layers = [nn.Sequential(nn.Conv2d(in_channels, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())]
        for stage in range(4):
            w = max(1, round((64 << stage) * width))
            blocks = []
            for i in range(2):
                blocks.append(Block(c, w, 2 if stage > 0 and i == 0 else 1))
                c = w
            layers.append(nn.Sequential(*blocks))
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Linear(c, classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.backbone(x), 1).flatten(1))


def bench(name, steps, warmup, batch, threads, bf16):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    if name == "simple_cnn":
        model, shape = SimpleCnn(), (1, 28, 28)
    else:
        model, shape = ResNet18(), (3, 32, 32)
    n = batch * 8
    # uint8 images converted once, as a Python pipeline with everything in memory would.
    images = torch.randint(0, 256, (n,) + shape, dtype=torch.uint8).float().div_(255)
    labels = torch.randint(0, 10, (n,))
    if bf16:  # the CPU's fast path written by hand: NHWC model and batches, bf16 autocast
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    # AdamW with norm/bias weights out of weight decay, as xp's default parameter groups.
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3)
    model.train()

    def step(i):
        lo = (i * batch) % n
        x, y = images[lo:lo + batch], labels[lo:lo + batch]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()  # xp reads the loss every step (divergence check, progress)

    for i in range(warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["simple_cnn", "resnet"], required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="channels_last + bf16 autocast")
    a = ap.parse_args()
    print(f"python {a.model} {bench(a.model, a.steps, a.warmup, a.batch, a.threads, a.bf16):.3f}")


if __name__ == "__main__":
    main()
