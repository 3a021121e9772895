"""Single-thread torchvision throughput for the transforms xp also has, on the same 256x256 RGB
uint8 input, joined with xp's numbers (bench.cpp's JSON lines) into a markdown table.

usage: python3 bench_torchvision.py xp_results.jsonl [seconds per case]
"""
import json
import sys
import time

import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)


def jpeg(quality):
    from torchvision.io import decode_jpeg, encode_jpeg
    return lambda x: decode_jpeg(encode_jpeg(x, quality=quality))


def gaussian_noise(x):
    # torchvision 0.14 has no noise transform; the plain tensor expression users write instead.
    sd = float(torch.empty(1).uniform_(10, 50).sqrt())
    return (x.float() + torch.randn(x.shape) * sd).clamp_(0, 255).to(torch.uint8)


to_float = T.ConvertImageDtype(torch.float32)
normalize = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
BIL = T.InterpolationMode.BILINEAR
CASES = {
    "random_resized_crop": T.RandomResizedCrop(224, antialias=False),
    "resize": T.Resize((224, 224), antialias=False),
    "center_crop": T.CenterCrop(224),
    "random_crop": T.RandomCrop(224, padding=4),
    "pad": T.Pad(16),
    "hflip": T.RandomHorizontalFlip(p=1.0),
    "vflip": T.RandomVerticalFlip(p=1.0),
    "rotate90": lambda x: torch.rot90(x, 1, (1, 2)),
    "rotate": T.RandomRotation(45, interpolation=BIL),
    "affine": T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, interpolation=BIL),
    "elastic": T.ElasticTransform(alpha=50.0, sigma=5.0),
    "color_jitter": T.ColorJitter(0.3, 0.3, 0.3, 0.1),
    "gamma": lambda x: F.adjust_gamma(x, float(torch.empty(1).uniform_(0.8, 1.2))),
    "gaussian_blur": T.GaussianBlur(5, (0.1, 2.0)),
    "gaussian_noise": gaussian_noise,
    "image_compression": jpeg(75),
    "to_gray": T.Grayscale(3),
    "coarse_dropout": T.RandomErasing(p=1.0),
    "normalize": T.Compose([to_float, normalize]),
    "rand_augment": T.RandAugment(2, 9, num_magnitude_bins=11),  # m = 9 on the 0-10 scale
    "trivial_augment": T.TrivialAugmentWide(),
    # No shadow, ISO noise or mask support in torchvision: the closest composition.
    "medium tier": T.Compose([
        T.RandomResizedCrop(224, scale=(0.6, 1.0), ratio=(0.75, 1.33), antialias=False),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.RandomRotation(45, interpolation=BIL)], p=0.5),
        T.RandomApply([T.ColorJitter(0.3, 0.3, 0.3, 0.1)], p=0.8),
        T.RandomApply([T.ColorJitter(0.2, 0.2)], p=0.5),
        T.RandomApply([T.RandomChoice([T.GaussianBlur(5, (0.1, 2.0)), gaussian_noise])], p=0.3),
        T.RandomApply([jpeg(75)], p=0.2),
        T.RandomGrayscale(0.05),
        to_float, normalize]),
}


def images_per_second(fn, x, seconds):
    best = 0.0
    for _ in range(3):
        # This thread's CPU time, as bench.cpp measures: per-core speed, robust to a busy machine.
        n, start = 0, time.thread_time()
        while time.thread_time() - start < seconds / 3:
            for _ in range(5):
                fn(x)
                n += 1
        best = max(best, n / (time.thread_time() - start))
    return best


def main():
    xp = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.6
    x = torch.randint(0, 256, (3, 256, 256), dtype=torch.uint8)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, 1 thread, 256x256 RGB uint8, images per CPU-second\n")
    print("| transform | xp images/s | torchvision images/s | xp / torchvision |")
    print("|---|---:|---:|---:|")
    for row in xp:
        name, ours = row["name"], row["images_per_s"]
        fn = CASES.get(name)
        if fn is None:
            print(f"| {name} | {ours:,.0f} | n/a | |")
            continue
        try:
            tv = images_per_second(fn, x, seconds * (3 if name == "medium tier" else 1))
        except Exception as e:  # a codec missing from this torchvision build
            print(f"| {name} | {ours:,.0f} | failed: {type(e).__name__} | |")
            continue
        print(f"| {name} | {ours:,.0f} | {tv:,.0f} | {ours / tv:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
