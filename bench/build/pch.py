#!/usr/bin/env python3
"""What the precompiled torch header is worth per file, measured in one run.

Takes a configured build's compile_commands.json and a deterministic sample of xp's translation
units of two kinds: files that include torch (they compile with the precompiled header) and files
that do not (cmake/XpTorchSources.cmake keeps the header away from them). Needs a build configured
with -DXP_UNITY_BUILD=OFF, where each file is its own compile command. Compiles each both ways,
without ccache, and prints the CPU seconds (user + sys of the compiler) of each and their ratio,
then what the whole build gains from the choice, extrapolated from the sample's means.

    python3 bench/build/pch.py [BUILD_DIR] [N_TORCH] [N_OTHER]
"""
import json, os, random, re, resource, shlex, subprocess, sys, tempfile

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
n_torch = int(sys.argv[2]) if len(sys.argv) > 2 else 6
n_other = int(sys.argv[3]) if len(sys.argv) > 3 else 4
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
entries = json.load(open(os.path.join(build, "compile_commands.json")))

pch_flag = re.compile(r"\s-Winvalid-pch -include (\S+cmake_pch\.hxx)")
pch_header = None
torch_files, other_files = [], []
for e in entries:
    f = e["file"]
    if not f.startswith(root) or "/tests/fuzz/" in f or f.endswith("pch_anchor.cc"):
        continue
    cmd = e["command"].replace("/usr/bin/ccache ", "")
    m = pch_flag.search(cmd)
    if m:
        pch_header = m.group(1)
        torch_files.append((f, e["directory"], cmd))
    elif re.search(r"-isystem \S*torch/csrc/api/include", cmd) and " -fPIC " in cmd:  # could take it
        other_files.append((f, e["directory"], cmd))
if not pch_header:
    sys.exit(f"no file of {build} uses the precompiled header (configured with XP_USE_PCH=OFF?)")
if any("/Unity/unity_" in e["file"] for e in entries):
    sys.exit(f"{build} compiles torch files in unity batches: configure one with -DXP_UNITY_BUILD=OFF")

rng = random.Random(1)
sample_t = rng.sample(sorted(torch_files), min(n_torch, len(torch_files)))
sample_o = rng.sample(sorted(other_files), min(n_other, len(other_files)))
out = tempfile.mkdtemp(prefix="xp-pch-bench-")


def cpu_seconds(cmd, cwd):
    cmd = re.sub(r"\s-o \S+", f" -o {out}/x.o", cmd)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(shlex.split(cmd), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def rel(f):
    return os.path.relpath(f, root)


print(f"{'file':58s} {'with pch s':>10s} {'without s':>10s} {'ratio':>6s}")
means = {}
for kind, sample in (("includes torch", sample_t), ("no torch", sample_o)):
    w_sum = wo_sum = 0.0
    for f, cwd, cmd in sample:
        if kind == "includes torch":
            with_pch, without = cmd, pch_flag.sub("", cmd)
        else:
            with_pch, without = cmd.replace(" -c ", f" -Winvalid-pch -include {pch_header} -c ", 1), cmd
        w, wo = cpu_seconds(with_pch, cwd), cpu_seconds(without, cwd)
        w_sum += w
        wo_sum += wo
        print(f"{rel(f):58s} {w:10.1f} {wo:10.1f} {w / wo:6.2f}")
    n = max(len(sample), 1)
    means[kind] = (w_sum / n, wo_sum / n)
    print(f"  {kind}: mean {w_sum / n:.1f} s with the header, {wo_sum / n:.1f} s without ({len(sample)} files)")

saved_t = (means["includes torch"][1] - means["includes torch"][0]) * len(torch_files)
saved_o = (means["no torch"][0] - means["no torch"][1]) * len(other_files)
print(f"whole build ({len(torch_files)} files include torch, {len(other_files)} do not): the header saves "
      f"~{saved_t / 60:.0f} CPU-min on the first kind; keeping it from the second saves ~{saved_o / 60:.0f} CPU-min")
