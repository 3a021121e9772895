"""The Python side of bench/train/fashion_e2e.sh: the recipe of the xp side written as a plain PyTorch
script, the way a researcher would with everything in memory: Fashion-MNIST as one float tensor,
batches sliced from a shuffled index, horizontal flips applied to the batch tensor, AdamW with
norm/bias weights out of weight decay, one-cycle, label smoothing, and the same per-epoch evaluation
(a held-out tenth of the training images) as xp's val split, then the test split once.

`--bf16` is the script a researcher who knows the CPU's fast path writes: the model and batches
channels_last, forward and loss under torch.autocast("cpu", bfloat16) (xp: train.precision = "bf16",
whose channels_last is already on by default on a oneDNN CPU).

Prints one line per epoch: `epoch N wall_s W val_top1 A`, then `test_top1 A wall_s W`. Wall time
counts from the start of the script (imports and data loading included, as xp's does).
"""
import argparse
import gzip
import os
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class SimpleCnn(nn.Module):
    # xp's simple_cnn plugin: 2 x (conv3x3 no bias + BN + ReLU + maxpool2), dropout, FC 128, FC 10.
    def __init__(self, channels=(32, 64), hidden=128, dropout=0.1, classes=10):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.backbone = nn.Sequential(block(1, channels[0]), block(channels[0], channels[1]))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels[1] * 49, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, classes))

    def forward(self, x):
        x = self.backbone(x)
        if x.shape[-2:] != (7, 7):  # as the plugin: the identity pooling is skipped
            x = F.adaptive_avg_pool2d(x, (7, 7))
        return self.head(x.flatten(1))


def accuracy(model, x, y, batch, bf16):
    model.eval()
    correct = 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for lo in range(0, len(x), batch):
            correct += (model(x[lo:lo + batch]).argmax(1) == y[lo:lo + batch]).sum().item()
    model.train()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--eval-batch", type=int, default=500)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bf16", action="store_true", help="channels_last + bf16 autocast")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    def load(prefix):
        images = idx(os.path.join(a.root, f"{prefix}-images-idx3-ubyte.gz"))
        labels = idx(os.path.join(a.root, f"{prefix}-labels-idx1-ubyte.gz"))
        images = torch.from_numpy(images.copy()).unsqueeze(1).float().div_(255)
        if a.bf16:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, torch.from_numpy(labels.astype(np.int64))

    x, y = load("train")
    test_x, test_y = load("t10k")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_val = len(x) // 10
    val_x, val_y = x[order[:n_val]], y[order[:n_val]]
    x, y = x[order[n_val:]], y[order[n_val:]]

    model = SimpleCnn()
    if a.bf16:
        model = model.to(memory_format=torch.channels_last)
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr)
    steps = len(x) // a.batch  # drop_last, as xp
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps * a.epochs, pct_start=0.25)
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(len(x))
        for s in range(steps):
            idx_b = perm[s * a.batch:(s + 1) * a.batch]
            xb, yb = x[idx_b], y[idx_b]
            flip = torch.rand(len(xb)) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss.item()  # a loop that logs or checks its loss reads it every step, as xp does
        acc = accuracy(model, val_x, val_y, a.eval_batch, a.bf16)
        print(f"epoch {epoch} wall_s {time.perf_counter() - T0:.1f} val_top1 {acc:.4f}", flush=True)
    print(f"test_top1 {accuracy(model, test_x, test_y, a.eval_batch, a.bf16):.4f} wall_s {time.perf_counter() - T0:.1f}",
          flush=True)


if __name__ == "__main__":
    main()
