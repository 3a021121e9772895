#!/usr/bin/env python3
"""The Python side of bench/predict/classify.sh: classification predictions for a folder of JPEG files
with torchvision's resnet18 loading the weights `xp export --names torchvision` wrote (read with json +
struct), the usual PyTorch way: ImageFolder-style file list, a DataLoader with worker processes
(PIL decode, Resize(256), CenterCrop(224), ToTensor, Normalize), pinned batches on a GPU, softmax,
top-5 per file, a CSV of path,predicted,probability,class_1,probability_1,...

    python3 classify.py WEIGHTS.safetensors FOLDER --out preds.csv --batch 256 --workers 14 --device cuda
prints "images N seconds S rate R" (S from before the model is built to the CSV written)."""
import argparse
import csv
import json
import os
import sys
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sliding_window import load_safetensors  # noqa: E402  (json + struct, no safetensors package)


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, transform):
        self.paths, self.transform = paths, transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            return self.transform(im.convert("RGB")), i


def main():
    a = argparse.ArgumentParser()
    a.add_argument("weights")
    a.add_argument("folder")
    a.add_argument("--out", required=True)
    a.add_argument("--batch", type=int, default=64)
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("--threads", type=int, default=0)
    a.add_argument("--device", default="cpu")
    a = a.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    start = time.time()
    sidecar = json.load(open(os.path.splitext(a.weights)[0] + ".json"))
    norm = sidecar["normalization"]
    classes = sidecar["class_names"] or [str(k) for k in range(sidecar["num_classes"])]
    model = torchvision.models.resnet18(num_classes=len(classes))
    model.load_state_dict(load_safetensors(a.weights), strict=True)
    device = torch.device(a.device)
    model = model.to(device).eval()
    paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(a.folder) for f in fs if f.lower().endswith((".jpg", ".jpeg", ".png")))
    transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(norm["mean"], norm["std"])])
    loader = torch.utils.data.DataLoader(Files(paths, transform), batch_size=a.batch, num_workers=a.workers,
                                         pin_memory=device.type == "cuda")
    rows = []
    with torch.inference_mode():
        for x, idx in loader:
            p = torch.softmax(model(x.to(device, non_blocking=True)), 1).cpu()
            top = p.topk(min(5, p.size(1)), 1)
            for k in range(len(idx)):
                rows.append((paths[idx[k]], top.indices[k].tolist(), top.values[k].tolist()))
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "predicted", "probability"] + [c for j in range(1, 6) for c in (f"class_{j}", f"probability_{j}")])
        for path, ids, ps in rows:
            w.writerow([path, classes[ids[0]], f"{ps[0]:.6f}"] + [v for j in range(len(ids)) for v in (classes[ids[j]], f"{ps[j]:.6f}")])
    s = time.time() - start
    print("images %d seconds %.3f rate %.1f" % (len(rows), s, len(rows) / s))


if __name__ == "__main__":
    sys.exit(main())
