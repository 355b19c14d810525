#!/usr/bin/env bash
# Pack the CUDA build for a GPU machine that has the NVIDIA driver and CUDA libraries but no
# FFmpeg and no network: target-cuda/gpu/ gets
#   vidcompare.xz   the stripped binary of tools/build-cuda.sh
#   lib.tar.xz      lib/: the FFmpeg 5 libraries the binary links and every library they need,
#                   except the C runtime and ICU's data (carried apart, below), and a stand-in
#                   libavdevice.so.59 (the binary only calls avdevice_register_all, which
#                   registers capture devices a run never opens; the real one pulls in X11, SDL
#                   and PulseAudio)
#   icu.xz          libicudata (needed by libxml2 through libicuuc)
# about 58 MB in all, under the device tool's 64 MiB carry limit. Unpack and run on the GPU
# machine as the README's "GPU" section shows.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target-cuda/release/vidcompare
[[ -x "$bin" ]] || { echo "gpu-bundle: build $bin first (tools/build-cuda.sh)" >&2; exit 1; }
out=target-cuda/gpu
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/lib"

strip -o "$work/vidcompare" "$bin"
xz -T0 -6 -c "$work/vidcompare" > "$out/vidcompare.xz"

# The FFmpeg libraries the binary itself names (not everything ldd lists, which is transitive).
needed=$(readelf -d "$bin" | awk '/NEEDED/ && /lib(avcodec|avformat|avutil|swscale|swresample|avfilter)\.so/ {gsub(/[][]/, "", $5); print $5}')
ff=$(for n in $needed; do ldconfig -p | awk -v n="$n" '$1 == n {print $NF; exit}'; done)
{
    for l in $ff; do
        echo "$l"
        ldd "$l" | awk '/=>/ {print $3}'
    done
} | sort -u \
  | grep -v -E '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux-x86-64|libavdevice|libicudata)\.so' \
  | while read -r l; do cp -L "$l" "$work/lib/"; done
# libavdevice's own dependencies are not copied: a stand-in with the one symbol the binary uses.
printf 'void avdevice_register_all(void) {}\n' > "$work/stub.c"
printf 'LIBAVDEVICE_59 { global: avdevice_register_all; local: *; };\n' > "$work/stub.map"
cc -shared -fPIC -o "$work/lib/libavdevice.so.59" -Wl,-soname,libavdevice.so.59 \
    -Wl,--version-script="$work/stub.map" "$work/stub.c"
missing=$(LD_LIBRARY_PATH="$work/lib" ldd "$bin" | awk '/not found/ && !/cuda|cublas|curand/ {print $1}')
[[ -z "$missing" ]] || { echo "gpu-bundle: still unresolved: $missing" >&2; exit 1; }
tar -C "$work" -cf - lib | xz -T0 -6 > "$out/lib.tar.xz"
xz -T0 -6 -c "$(ldconfig -p | awk '/libicudata\.so\.[0-9]+ / {print $NF; exit}')" > "$out/icu.xz"
du -ch "$out"/* | tail -1
