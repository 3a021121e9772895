#!/usr/bin/env python3
"""Reads an `xp export` safetensors file with the standard library only (json + struct), checks
its layout, and optionally loads it into torchvision and compares logits with xp's predictions.

    check_safetensors.py FILE                       layout + sidecar; prints "tensors N"
    check_safetensors.py FILE --torchvision PNG SEED PREDICTIONS.csv
        builds torchvision.models.<architecture> from the sidecar, load_state_dict(strict=True),
        feeds the PNG's pixels (write_png.pixels(SEED)) normalized as the sidecar says, and compares
        the softmax with the probabilities xp predict wrote (every class: --top-k K); prints the
        largest absolute difference and fails above 1e-5.
"""
import csv
import json
import math
import os
import struct
import sys

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    if n % 8:
        fail("header length %d is not a multiple of 8" % n)
    meta = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    at = 0
    for name, e in entries:
        begin, end = e["data_offsets"]
        if begin != at:
            fail("%s starts at %d, expected %d (gap or overlap)" % (name, begin, at))
        count = math.prod(e["shape"]) if e["shape"] else 1
        if end - begin != count * SIZES[e["dtype"]]:
            fail("%s: %d bytes for shape %s %s" % (name, end - begin, e["shape"], e["dtype"]))
        at = end
    if at != len(data):
        fail("tensors end at %d, the data holds %d bytes" % (at, len(data)))
    return meta, header, data


def main():
    path = sys.argv[1]
    meta, header, data = read(path)
    sidecar = json.load(open(os.path.splitext(path)[0] + ".json"))
    for key in ("run", "class_names", "normalization", "temperature", "threshold", "config", "key_names", "in_channels"):
        if key not in sidecar:
            fail("sidecar lacks " + key)
    if meta.get("xp_run") != sidecar["run"]:
        fail("metadata names run %s, the sidecar %s" % (meta.get("xp_run"), sidecar["run"]))
    if sidecar["tensors"] != len(header):
        fail("sidecar counts %d tensors, the file holds %d" % (sidecar["tensors"], len(header)))
    print("tensors %d key_names %s" % (len(header), sidecar["key_names"]))
    if len(sys.argv) < 3:
        return
    png, seed, predictions = sys.argv[3], int(sys.argv[4]), sys.argv[5]
    import torch
    import torchvision
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from write_png import pixels

    dtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}
    state = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        state[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[e["dtype"]]).reshape(e["shape"])
    arch = sidecar["torchvision_architecture"]
    if not arch:
        fail("the export has no torchvision architecture")
    model = getattr(torchvision.models, arch)(num_classes=sidecar["num_classes"])
    model.load_state_dict(state, strict=True)
    model.eval()
    h, w = sidecar["input_size"]
    c = sidecar["in_channels"]
    x = torch.tensor(list(pixels(h, w, c, seed)), dtype=torch.float32).reshape(h, w, c).permute(2, 0, 1)
    norm = sidecar["normalization"]
    mean = torch.tensor(norm["mean"]).reshape(-1, 1, 1)
    std = torch.tensor(norm["std"]).reshape(-1, 1, 1)
    x = (x / norm["max_pixel_value"] - mean) / std
    with torch.no_grad():
        p = torch.softmax(model(x.unsqueeze(0))[0] / sidecar["temperature"], 0)
    names = sidecar["class_names"] or [str(k) for k in range(sidecar["num_classes"])]
    rows = list(csv.DictReader(open(predictions)))
    if len(rows) != 1:
        fail("expected one prediction row, got %d" % len(rows))
    xp = {}
    for j in range(1, len(names) + 1):
        xp[rows[0]["class_%d" % j]] = float(rows[0]["probability_%d" % j])
    diff = max(abs(xp[n] - p[k].item()) for k, n in enumerate(names))
    print("max abs difference of probabilities (torchvision vs xp): %.3g" % diff)
    if diff > 1e-5:
        fail("torchvision and xp disagree by %g" % diff)


if __name__ == "__main__":
    main()
