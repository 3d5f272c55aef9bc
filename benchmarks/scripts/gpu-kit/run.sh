#!/usr/bin/env bash
# Runs distillery-bench from the GPU kit on a bare Linux x64 machine: no node, no npm, no network.
# Built by `npm run bench:kit` (benchmarks/scripts/gpu-kit.mjs), which copies this file into the kit.
#
#   OUT=/where/results/go bash .gpu-kit/run.sh [suites...] [--quick] [--no-vendor] [bench options...]
#   bash .gpu-kit/run.sh --list          the suites "all" stands for
#
# Suites come first (default: all), then options; options other than --no-vendor go to every
# distillery-bench call (--quick, --no-torch, --rows 64,1024 ...). Each suite runs in its own
# process, so one that fails or runs out of time loses only its own rows; every run merges into
# $OUT/results/<adapter>.json (distillery-bench --save), and each suite's ratios come from its
# own process on the one adapter; ratios.mjs prints the goals' ratios last. What lands in $OUT:
# run.log (everything printed), adapter.json, vendor-baseline.json (PyTorch CUDA: SGEMM, copy
# bandwidth, KD loss), results/<adapter>.json and, for CPU-only suites, results/cpu.json.
#
# Environment: OUT (default ./gpu-kit-out), KIT_BUDGET (seconds for the whole run, default 540:
# under a 10-minute call), KIT_WORK (scratch folder, default /tmp/distillery-gpu-kit),
# KIT_ALLOW_FALLBACK=1 (go on with a CPU adapter although an NVIDIA GPU is present), NODE (a
# node to use when the kit has none), VK_DRIVER_FILES (kept when set), KIT_NVIDIA_ICD (where the
# NVIDIA ICD is looked for when none is registered; default /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json).
#
# Exit status: 0 all suites ran, 1 a suite failed or timed out (the others are saved), 2 bad
# usage or a broken kit, 3 no WebGPU adapter, 4 a CPU fallback adapter on a machine with an NVIDIA GPU.
set -uo pipefail

KIT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${KIT_WORK:-/tmp/distillery-gpu-kit}
BUDGET=${KIT_BUDGET:-540}
OUT=${OUT:-$PWD/gpu-kit-out}
PYTHON_CANDIDATES=(python3 /usr/bin/python3)

die() {
  local code=$1
  shift
  echo "gpu-kit: $*" >&2
  exit "$code"
}

suites=()
options=()
vendor=1
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-vendor) vendor=0 ;;
    --list) list=1 ;;
    --help | -h)
      awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    -*) options+=("$1") ;;
    *) if [ ${#options[@]} -eq 0 ]; then suites+=("$1"); else options+=("$1"); fi ;;
  esac
  shift
done

[ -f "$KIT/kit.json" ] && [ -f "$KIT/bench.mjs" ] || die 2 "$KIT is not a GPU kit (no kit.json or bench.mjs): build it with npm run bench:kit"
mkdir -p "$OUT" || die 2 "cannot create OUT=$OUT"
OUT=$(cd "$OUT" && pwd)
if [ "$list" = 0 ]; then
  # Everything printed also goes to $OUT/run.log.
  exec > >(tee -a "$OUT/run.log") 2> >(tee -a "$OUT/run.log" >&2)
fi

python_for() { # the first Python whose `import torch` passes the check in $1
  local py
  for py in "${PYTHON_CANDIDATES[@]}"; do
    command -v "$py" > /dev/null 2>&1 && "$py" -c "import torch, sys; sys.exit(0 if ($1) else 1)" > /dev/null 2>&1 && {
      echo "$py"
      return 0
    }
  done
  return 1
}

unpack() { # $1: file.xz or file.gz, $2: destination (xz/gzip, else Python's lzma/gzip)
  local py
  py=$(command -v python3 || echo /usr/bin/python3)
  case "$1" in
    *.xz)
      if command -v xz > /dev/null; then xz -dc "$1" > "$2"; else "$py" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
      ;;
    *.gz)
      if command -v gzip > /dev/null; then gzip -dc "$1" > "$2"; else "$py" -c 'import gzip, shutil, sys; shutil.copyfileobj(gzip.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
      ;;
  esac
}

# --- the kit's files in a scratch folder: the kit itself stays as it came --------------------------
rm -rf "$WORK" && mkdir -p "$WORK" || die 2 "cannot create KIT_WORK=$WORK"
cp -r "$KIT"/*.mjs "$KIT/files" "$KIT/webgpu" "$WORK/" || die 2 "cannot copy the kit to $WORK"
dawn_dir="$WORK/webgpu/dist/linux-x64"
for packed in "$dawn_dir"/dawn.node.xz "$dawn_dir"/dawn.node.gz; do
  [ -f "$packed" ] || continue
  unpack "$packed" "$dawn_dir/dawn.node" && rm -f "$packed" || die 2 "cannot unpack $packed"
done
[ -f "$dawn_dir/dawn.node" ] || die 2 "the kit has no dawn.node"

if [ -f "$KIT/node.xz" ] || [ -f "$KIT/node.gz" ]; then
  packed=$(ls "$KIT"/node.xz "$KIT"/node.gz 2> /dev/null | head -1)
  unpack "$packed" "$WORK/node" && chmod +x "$WORK/node" || die 2 "cannot unpack $packed"
  NODE="$WORK/node"
else
  NODE=${NODE:-$(command -v node || true)}
  [ -n "$NODE" ] || die 2 "the kit has no node (built with --no-node) and there is none on PATH"
fi
"$NODE" --version > /dev/null || die 2 "$NODE does not run here (a noexec $WORK? set KIT_WORK to another folder)"

if [ "$list" = 1 ]; then
  "$NODE" "$WORK/bench.mjs" --help | awk '/^Suites:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'
  exit 0
fi
[ ${#suites[@]} -gt 0 ] && [ "${suites[*]}" != all ] || mapfile -t suites < <("$NODE" "$WORK/bench.mjs" --help | awk '/^Suites:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')

echo "gpu-kit: $(date -u +%FT%TZ), kit $(grep -o '"revision": "[^"]*"' "$KIT/kit.json" | cut -d'"' -f4)$(grep -q '"dirty": true' "$KIT/kit.json" && echo ' (with uncommitted changes)'), node $("$NODE" --version), suites: ${suites[*]}, options: ${options[*]:-none}, budget ${BUDGET} s"
if command -v nvidia-smi > /dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader 2>&1 | sed 's/^/gpu-kit: nvidia-smi: /'
fi

# --- Vulkan: the loader, then the NVIDIA ICD when the image does not register one ------------------
has_lib() { ldconfig -p 2> /dev/null | grep -q "^[[:space:]]*$1 "; }
if ! has_lib libvulkan.so.1; then
  # Only the packages whose library the image lacks: never replace its own libEGL or libGLdispatch.
  debs=()
  for f in "$KIT"/debs/*.deb; do
    case "${f##*/}" in
      libvulkan1_*) has_lib libvulkan.so.1 || debs+=("$f") ;;
      libegl1_*) has_lib libEGL.so.1 || debs+=("$f") ;;
      libglvnd0_*) has_lib libGLdispatch.so.0 || debs+=("$f") ;;
    esac
  done
  if [ ${#debs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "gpu-kit: no libvulkan.so.1: installing ${debs[*]##*/}"
      for f in "${debs[@]}"; do dpkg -x "$f" / || die 2 "dpkg -x $f failed"; done
      ldconfig
    else
      echo "gpu-kit: no libvulkan.so.1: unpacking ${debs[*]##*/} into $WORK/sysroot (not root)"
      for f in "${debs[@]}"; do dpkg -x "$f" "$WORK/sysroot" || die 2 "dpkg -x $f failed"; done
      export LD_LIBRARY_PATH="$WORK/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  else
    echo "gpu-kit: warning: no libvulkan.so.1 on this machine and no debs in the kit (build it with --debs)"
  fi
fi
nvidia_icd=${KIT_NVIDIA_ICD:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ]; then
  registered=$(ls /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json 2> /dev/null | grep -i nvidia | head -1)
  [ -n "$registered" ] || export VK_DRIVER_FILES=$nvidia_icd
fi
icds="${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}"
[ -n "$icds" ] || icds="search path: $(ls /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json 2> /dev/null | tr '\n' ' ')"
echo "gpu-kit: Vulkan ICD: $icds"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# --- the adapter: none, or a CPU one beside an NVIDIA GPU, ends the run here -----------------------
if ! adapter=$("$NODE" "$WORK/adapter.mjs"); then
  die 3 "no WebGPU adapter, nothing was benchmarked (Vulkan ICD: $icds; see the message above)"
fi
echo "$adapter" > "$OUT/adapter.json"
echo "gpu-kit: adapter $adapter"
if [[ "$adapter" == *'"isFallback":true'* ]] && { [ -e /dev/nvidia0 ] || nvidia-smi -L > /dev/null 2>&1; } && [ "${KIT_ALLOW_FALLBACK:-0}" != 1 ]; then
  die 4 "the adapter is a CPU fallback although this machine has an NVIDIA GPU: Vulkan does not reach the driver (set VK_DRIVER_FILES to its nvidia_icd.json, or KIT_ALLOW_FALLBACK=1 to go on)"
fi

# --- the vendor library on the same GPU: the reference for the matmul and roofline ratios ----------
if [ "$vendor" = 1 ]; then
  if py=$(python_for 'torch.cuda.is_available()'); then
    echo "gpu-kit: vendor baseline (PyTorch CUDA) with $py"
    vendor_limit=$((BUDGET - SECONDS - 30))
    [ "$vendor_limit" -le 180 ] || vendor_limit=180
    if [ "$vendor_limit" -lt 10 ]; then
      echo "gpu-kit: vendor baseline not run: the ${BUDGET} s budget is spent"
    else
      timeout --kill-after=10 "$vendor_limit" "$py" "$KIT/vendor-baseline.py" --out "$OUT/vendor-baseline.json" || echo "gpu-kit: the vendor baseline failed (exit $?)"
    fi
  else
    echo "gpu-kit: vendor baseline skipped: no Python whose PyTorch sees CUDA (tried ${PYTHON_CANDIDATES[*]})"
  fi
fi

# --- the suites, one process each, within the budget ----------------------------------------------
status=0
for suite in "${suites[@]}"; do
  left=$((BUDGET - SECONDS - 5))
  if [ "$left" -lt 20 ]; then
    echo "gpu-kit: $suite not run: the ${BUDGET} s budget is spent"
    status=1
    continue
  fi
  echo "gpu-kit: $suite (at most ${left} s)"
  timeout --kill-after=10 "$left" "$NODE" "$WORK/bench.mjs" "$suite" --save --results-dir "$OUT/results" "${options[@]}"
  code=$?
  if [ "$code" != 0 ]; then
    [ "$code" = 124 ] && echo "gpu-kit: $suite ran out of time (${left} s)" || echo "gpu-kit: $suite failed (exit $code)"
    status=1
  fi
done
echo
"$NODE" "$WORK/ratios.mjs" "$OUT" || echo "gpu-kit: ratios.mjs failed"
echo
echo "gpu-kit: done in ${SECONDS} s, exit ${status}; in $OUT: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
exit $status
