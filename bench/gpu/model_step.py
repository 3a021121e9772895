"""The Python side of bench/gpu model-step throughput: torchvision's ResNet trained on synthetic
data already on the GPU, torch.autocast (+ GradScaler for fp16), SGD with momentum, optional
channels_last, cudnn.benchmark. Prints `python <model> <precision> <images/s> params <n>`."""
import argparse
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--depth", type=int, default=50)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--precision", default="bf16", choices=["fp32", "fp16", "bf16"])
p.add_argument("--steps", type=int, default=50)
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--channels-last", type=int, default=1)
p.add_argument("--size", type=int, default=224)
a = p.parse_args()

torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
model = getattr(torchvision.models, f"resnet{a.depth}")(num_classes=1000).cuda().to(memory_format=fmt)
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
dtype = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[a.precision]
scaler = torch.amp.GradScaler("cuda") if a.precision == "fp16" else None
x = torch.randn(a.batch, 3, a.size, a.size, device="cuda").contiguous(memory_format=fmt)
y = torch.randint(0, 1000, (a.batch,), device="cuda")


def step():
    opt.zero_grad()
    with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    if scaler:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()


for _ in range(a.warmup):
    step()
torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
torch.cuda.synchronize()
dt = time.perf_counter() - t0
n = sum(p.numel() for p in model.parameters())
print(f"python resnet{a.depth} {a.precision} {a.steps * a.batch / dt:.1f} params {n}")
