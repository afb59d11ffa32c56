# Source this (bash) on a GPU host before running a papermap binary built by scripts/build-cuda.sh:
#
#   source gpu-env.sh && ./papermap-cuda index DIGESTS --device cuda
#
# The binary links the NVIDIA driver (libcuda.so.1, from the driver install) and the CUDA 13
# libraries libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10 and
# libnvrtc.so.13. GPU hosts without a CUDA toolkit usually have those inside PyTorch's
# site-packages (.../site-packages/nvidia/cu13/lib). This finds the directories that hold them and
# prepends them to LD_LIBRARY_PATH. Safe to source twice; sets no shell options.
# PAPERMAP_CUDA_LIBDIR=DIR skips the search for the CUDA 13 libraries.

_papermap_gpu_env() {
  local -a dirs=() missing=()
  local lib dir py cand found i
  if [[ -n ${PAPERMAP_CUDA_LIBDIR:-} ]]; then
    dirs+=("$PAPERMAP_CUDA_LIBDIR")
  else
    # 1. Ask the Pythons around where their `nvidia` wheels live (fast, no disk walk).
    for py in python3 /opt/torch/.venv/bin/python3 /usr/bin/python3; do
      command -v "$py" >/dev/null 2>&1 || continue
      cand=$("$py" -c 'import nvidia, os
for p in nvidia.__path__: print(os.path.join(p, "cu13", "lib"))' 2>/dev/null) || continue
      for dir in $cand; do
        [[ -e $dir/libcublas.so.13 ]] && dirs+=("$dir")
      done
      (( ${#dirs[@]} )) && break
    done
  fi
  # 2. Each library still missing: system-wide (ldconfig), else search the disk, first hit wins.
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13 libcuda.so.1; do
    found=""
    for dir in "${dirs[@]}"; do [[ -e $dir/$lib ]] && found=1; done
    [[ -n $found ]] && continue
    /sbin/ldconfig -p 2>/dev/null | grep -q " $lib " && continue
    cand=""
    [[ $lib == libcuda.so.1 ]] && for dir in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
      [[ -e $dir/$lib ]] && { cand=$dir/$lib; break; }
    done
    [[ -z $cand ]] && cand=$(find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name "$lib" -print 2>/dev/null | head -n1)
    if [[ -n $cand ]]; then dirs+=("$(dirname "$cand")"); else missing+=("$lib"); fi
  done
  # 3. Prepend what was found (once) to LD_LIBRARY_PATH.
  for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    case ":${LD_LIBRARY_PATH:-}:" in
      *":${dirs[i]}:"*) ;;
      *) LD_LIBRARY_PATH="${dirs[i]}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
  done
  export LD_LIBRARY_PATH
  echo "gpu-env: LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >&2
  if (( ${#missing[@]} )); then
    echo "gpu-env: not found: ${missing[*]} (needs the NVIDIA driver and PyTorch's CUDA 13 wheels or a CUDA 13 toolkit)" >&2
    return 1
  fi
}
_papermap_gpu_env
