#!/usr/bin/env bash
# Build papermap with `--features cuda` on a CPU-only machine (no GPU, no system CUDA toolkit),
# producing a stripped x86-64 binary to copy to a GPU host (see DESIGN.md, "GPU builds").
#
#   scripts/build-cuda.sh            full release build -> $PAPERMAP_HOME/papermap-cuda
#   scripts/build-cuda.sh --check    only `cargo check --release --features cuda` (for CI)
#
# What it does, each step skipped when already done (the script is idempotent):
#   1. pip-installs the CUDA compiler (nvcc, nvvm, crt, cudart, cccl) and the libraries that the
#      binary links (cublas/cublasLt, curand, nvrtc) from PyPI wheels into a cache directory
#      outside the checkout: $PAPERMAP_HOME/cuda/<toolkit>/nvidia/cu13/{bin,include,lib}.
#   2. adds the unversioned .so symlinks the linker wants (libcudart.so -> libcudart.so.13, ...)
#      and a link-time-only libcuda.so driver stub (soname libcuda.so.1) in lib/stubs.
#   3. builds with CARGO_TARGET_DIR=$PAPERMAP_HOME/target-cuda, so the CPU build cache
#      ($PAPERMAP_HOME/target) is left alone, then strips a copy of the binary and prints what
#      it needs at run time (ldd).
#
# Toolkit version (PAPERMAP_CUDA_TOOLKIT):
#   13.0 (default)  nvcc 13.0.88. Matches the GPU hosts: driver 580 (= CUDA 13.0) and PyTorch
#                   2.11+cu130's libraries. candle-kernels ships its kernels as PTX that the
#                   *driver* JIT-compiles when the binary starts, and a driver only accepts PTX
#                   whose ISA version it knows: nvcc 13.0 writes `.version 9.0` (accepted by
#                   driver 580), nvcc 13.5 writes `.version 9.5`, which driver 580 rejects with
#                   CUDA_ERROR_UNSUPPORTED_PTX_VERSION.
#                   (Checked on an H100 with driver 580.159.04: a 9.0 PTX module loads, a 9.5 one
#                   fails with error 222.)
#   13.5            nvcc 13.5.37 (the set named in DESIGN.md). Fine for `--check` and for hosts
#                   whose driver is CUDA >= 13.5; its binary will NOT run on driver 580.
#
# Cost on a 2-core machine: ~1.2 GB of wheels, ~33 min for a cold build (most of it nvcc compiling
# candle-kernels' quantized-matmul kernels), ~1 min after a change to papermap only; `--check` with
# a warm target dir ~2.5 min. Result: ~52 MB stripped binary.
#
# Environment knobs: PAPERMAP_HOME (default ~/.cache/papermap), PAPERMAP_CUDA_DIR (default
# $PAPERMAP_HOME/cuda), PAPERMAP_CUDA_TOOLKIT (13.0|13.5), CUDA_COMPUTE_CAP (default 90 = H100/H200),
# PAPERMAP_CUDA_RPATH (run-time library search path baked into the binary; see below).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

PAPERMAP_HOME=${PAPERMAP_HOME:-$HOME/.cache/papermap}
CUDA_CACHE=${PAPERMAP_CUDA_DIR:-$PAPERMAP_HOME/cuda}
TOOLKIT=${PAPERMAP_CUDA_TOOLKIT:-13.0}

# ---- 1. pick the wheel set -------------------------------------------------------------------
# The link-time libraries are pinned to the versions PyTorch 2.11.0+cu130 installs on the GPU hosts
# (cuda-toolkit 13.0.2: cublas 13.1.0.3, curand 10.4.0.35, nvrtc 13.0.88), so every symbol the
# binary binds at start-up exists in the libraries it will actually load there.
LINK_WHEELS=(nvidia-cublas==13.1.0.3 nvidia-curand==10.4.0.35 nvidia-cuda-nvrtc==13.0.88)
case "$TOOLKIT" in
  13.0)
    COMPILER_WHEELS=(nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
                     nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85)
    # cudarc's build.rs accepts only the versions it has bindings for (13000..13040 for CUDA 13).
    CUDARC_VERSION=13000 ;;
  13.5)
    COMPILER_WHEELS=(nvidia-cuda-nvcc==13.5.37 nvidia-nvvm==13.5.37 nvidia-cuda-crt==13.5.37
                     nvidia-cuda-runtime==13.5.37 nvidia-cuda-cccl==13.3.5.0.6)
    # cudarc 0.19 has no 13.5 bindings (`nvcc --version` 13.5 would panic its build.rs): use 13.4's.
    CUDARC_VERSION=13040 ;;
  *) echo "PAPERMAP_CUDA_TOOLKIT must be 13.0 or 13.5, not '$TOOLKIT'" >&2; exit 2 ;;
esac
WHEELS=("${COMPILER_WHEELS[@]}" "${LINK_WHEELS[@]}")

TK_DIR=$CUDA_CACHE/$TOOLKIT          # pip --target directory for this wheel set
CUDA_ROOT_DIR=$TK_DIR/nvidia/cu13    # all CUDA 13 wheels unpack here: bin/ include/ lib/ nvvm/
STAMP=$TK_DIR/.papermap-wheels       # records the exact wheel list that was installed

# ---- 2. install the wheels (only if this exact set is not there yet) -------------------------
if [[ ! -f $STAMP || "$(cat "$STAMP")" != "${WHEELS[*]}" ]]; then
  echo "== installing CUDA $TOOLKIT wheels into $TK_DIR (about 1.3 GB)"
  mkdir -p "$CUDA_CACHE"
  tmp=$(mktemp -d "$CUDA_CACHE/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # Install into a scratch dir and move it into place at the end, so an interrupted install
  # never leaves a half-filled toolkit behind that a later run would take as complete.
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --target "$tmp/tk" "${WHEELS[@]}"
  printf '%s' "${WHEELS[*]}" >"$tmp/tk/.papermap-wheels"
  rm -rf "$TK_DIR"
  mv "$tmp/tk" "$TK_DIR"
  rm -rf "$tmp"
  trap - EXIT
fi
[[ -x $CUDA_ROOT_DIR/bin/nvcc ]] || { echo "no nvcc at $CUDA_ROOT_DIR/bin/nvcc" >&2; exit 1; }

# ---- 3. unversioned .so symlinks for the linker (-lcudart -lcublas ...) ----------------------
# The wheels ship only the SONAME files (libcublas.so.13 ...); `ld -lcublas` looks for libcublas.so.
for lib in cudart cublas cublasLt curand nvrtc; do
  if [[ ! -e $CUDA_ROOT_DIR/lib/lib$lib.so ]]; then
    versioned=$(cd "$CUDA_ROOT_DIR/lib" && ls "lib$lib.so."[0-9]* | sort -V | head -n1)
    ln -sfn "$versioned" "$CUDA_ROOT_DIR/lib/lib$lib.so"
  fi
done

# ---- 4. libcuda.so driver stub (link time only) -----------------------------------------------
# libcuda.so.1 comes with the NVIDIA driver, which this machine does not have, and no PyPI wheel
# ships its stub. cudarc links the driver API directly (-lcuda), so the linker needs a library that
# defines those symbols: generate one that defines every cu* entry point cudarc binds (as empty
# functions), with soname libcuda.so.1 so the binary asks for the real driver library at run time.
# It lives in lib/stubs, never on a run-time search path.
STUB=$CUDA_ROOT_DIR/lib/stubs/libcuda.so
if [[ ! -f $STUB ]]; then
  cargo fetch --quiet   # make sure cudarc's source is unpacked in the registry
  cudarc_ver=$(awk '/^name = "cudarc"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
  driver_rs=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"cudarc-$cudarc_ver"/src/driver/sys/mod.rs | head -n1)
  mkdir -p "$(dirname "$STUB")"
  grep -oE '^pub unsafe fn cu[A-Za-z0-9_]+' "$driver_rs" | awk '{print "void " $4 "(void) {}"}' \
    | sort -u >"$STUB.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$STUB.tmp" "$STUB.c"
  mv "$STUB.tmp" "$STUB"
  echo "== built driver stub $STUB ($(wc -l <"$STUB.c") symbols)"
fi

# ---- 5. environment for candle-kernels (cudaforge), cudarc and the linker ---------------------
export PATH=$CUDA_ROOT_DIR/bin:$PATH
export NVCC=$CUDA_ROOT_DIR/bin/nvcc       # cudaforge: rerun-if-env-changed=NVCC (toolkit switch)
export CUDA_HOME=$CUDA_ROOT_DIR           # cudarc: -L $CUDA_HOME/lib and $CUDA_HOME/lib/stubs
export CUDA_ROOT=$CUDA_ROOT_DIR CUDA_PATH=$CUDA_ROOT_DIR
export CUDARC_CUDA_VERSION=$CUDARC_VERSION
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}   # no nvidia-smi here; 90 = H100/H200 (sm_90)
export LIBRARY_PATH=$CUDA_ROOT_DIR/lib:$CUDA_ROOT_DIR/lib/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}
# nvcc finds its own include/ (cuda_runtime.h, cccl) through nvcc.profile next to it, and uses the
# host gcc; set NVCC_CCBIN to pick another host compiler.
export CARGO_TARGET_DIR=$PAPERMAP_HOME/target-cuda
# No debug info in this target dir: the shipped binary is stripped anyway, and it halves link time.
export CARGO_PROFILE_RELEASE_DEBUG=0
# Run-time search path baked into the binary (RUNPATH; LD_LIBRARY_PATH still wins): where PyTorch's
# CUDA 13 wheels keep libcublas.so.13 & co. on the GPU hosts. scripts/gpu-env.sh covers hosts where
# they live elsewhere.
RPATH=${PAPERMAP_CUDA_RPATH:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib}
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C link-arg=-Wl,-rpath,$RPATH"

echo "== $(nvcc --version | tail -n 2 | head -n 1); CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP"
echo "== CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# ---- 6. check or build --------------------------------------------------------------------------
if [[ $mode == check ]]; then
  cargo check --release --features cuda
  exit 0
fi

start=$(date +%s)
cargo build --release --features cuda --bin papermap
echo "== cargo build took $(( $(date +%s) - start ))s"

OUT_BIN=$PAPERMAP_HOME/papermap-cuda
strip --strip-all -o "$OUT_BIN.tmp" "$CARGO_TARGET_DIR/release/papermap"
mv "$OUT_BIN.tmp" "$OUT_BIN"
# The scale bench (k-means and related-for-all at 1M vectors on the GPU, benches/gpu/run.sh).
scale=$(cargo bench --no-run --features cuda --bench scale 2>&1 | sed -n 's/.*Executable .*(\(.*scale-[0-9a-f]*\)).*/\1/p' | tail -n1)
if [[ -n $scale ]]; then
  strip --strip-all -o "$PAPERMAP_HOME/papermap-scale-cuda" "$scale"
  echo "== $PAPERMAP_HOME/papermap-scale-cuda (benches/scale.rs)"
fi
echo "== $OUT_BIN: $(du -h "$OUT_BIN" | cut -f1) ($(stat -c %s "$OUT_BIN") bytes)"
echo "== dynamic libraries it needs (NEEDED):"
objdump -p "$OUT_BIN" | awk '/NEEDED|RUNPATH|RPATH/ {print "   " $1, $2}'
echo "== ldd here (libcuda.so.1 is the driver's, so 'not found' on this CPU-only machine):"
LD_LIBRARY_PATH=$CUDA_ROOT_DIR/lib ldd "$OUT_BIN" || true
cat <<EOF
== on the GPU host (NVIDIA driver + PyTorch's CUDA 13 wheels; no Rust needed):
   scp $OUT_BIN scripts/gpu-env.sh HOST:
   source gpu-env.sh            # only needed where the libs are not under $RPATH
   ./papermap-cuda index DIGESTS --device cuda --model MODEL_DIR
EOF
