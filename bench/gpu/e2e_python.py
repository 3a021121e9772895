"""The Python side of the bench/gpu end-to-end benchmark: torchvision ImageFolder + DataLoader
(RandomResizedCrop 224, RandomHorizontalFlip, ToTensor, Normalize; N worker processes, pinned
memory, non-blocking copies) feeding torchvision's ResNet in bf16 autocast, channels_last. Times
the second epoch; prints `python e2e <images/s>`."""
import argparse
import time

import torch
import torchvision
import torchvision.transforms as T

p = argparse.ArgumentParser()
p.add_argument("root")
p.add_argument("--workers", type=int, default=14)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--depth", type=int, default=18)
a = p.parse_args()

torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = torchvision.datasets.ImageFolder(a.root, tf)
dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, pin_memory=True,
                                 drop_last=True, persistent_workers=True, prefetch_factor=4)
model = getattr(torchvision.models, f"resnet{a.depth}")(num_classes=10).cuda().to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
model.train()
rates = []
for epoch in range(2):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    n = 0
    for x, y in dl:
        x = x.cuda(non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.cuda(non_blocking=True)
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        n += x.shape[0]
    torch.cuda.synchronize()
    rates.append(n / (time.perf_counter() - t0))
print(f"python e2e {rates[-1]:.1f}")
