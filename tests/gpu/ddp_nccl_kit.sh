#!/usr/bin/env bash
# Not a ctest test: the NCCL check as run on the GPU machine (2026-12-02), from the repository root,
# with the GPU kit copied to .gpu/gpu-kit (see ../shared/gpu-kit/README.md). The kit has no
# libpqxx, so this configures with a stand-in libpqxx.pc (nothing of the registry is built), builds
# xpcore, compiles the ddp worker against it and runs the trainer scenarios (ddp_fit_scenarios.cpp)
# as one launched rank on CUDA over NCCL with sync_batchnorm. With a complete kit, use
# tests/gpu/ddp_nccl.sh (xp run --nproc-per-node 1) instead. OUT: where logs go (default /tmp/out).
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
source .gpu/gpu-kit/setup.sh >/dev/null
export CPATH=$XP_DEPS/usr/include/x86_64-linux-gnu:$CPATH
mkdir -p /tmp/pc && printf 'Name: libpqxx\nDescription: stand-in\nVersion: 7.8\nCflags:\nLibs:\n' > /tmp/pc/libpqxx.pc
export PKG_CONFIG_PATH=/tmp/pc:${PKG_CONFIG_PATH:-}
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DXP_BUILD_TESTS=OFF > $OUT/cmake.log 2>&1; echo cmake_rc=$?
grep "xp:" $OUT/cmake.log; grep -A5 "CMake Error" $OUT/cmake.log | head -20
cmake --build build-gpu -j16 --target xpcore > $OUT/build.log 2>&1; echo build_rc=$?
grep -B2 -A6 "error" $OUT/build.log | head -60
T=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
ABI=$(python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
g++ -std=c++17 -O1 -D_GLIBCXX_USE_CXX11_ABI=$ABI -Icore/include -Icore/src -Ibase/include -I$T/include -I$T/include/torch/csrc/api/include -I$XP_DEPS/usr/include/opencv4 tests/distributed/ddp_worker.cpp tests/distributed/ddp_fit_scenarios.cpp -o /tmp/w -Lbuild-gpu/lib -Wl,-rpath,$PWD/build-gpu/lib -lxpcore -lxpbase -L$T/lib -Wl,-rpath,$T/lib -ltorch -ltorch_cpu -ltorch_cuda -lc10 -lc10_cuda -L$XP_DEPS/usr/lib/x86_64-linux-gnu -lopencv_core > $OUT/worker.log 2>&1; echo worker_rc=$?; head -30 $OUT/worker.log
mkdir -p /tmp/d; p=29610
for m in full interrupt resume; do
  p=$((p+1)); RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p XP_DDP_TEST_DEVICE=cuda timeout 120 /tmp/w fit $m /tmp/d; echo "$m rc=$?"
  cp /tmp/d/${m}_rank0.log $OUT/ 2>/dev/null; grep -v "^epoch\|^  " /tmp/d/${m}_rank0.log | head -12
done
