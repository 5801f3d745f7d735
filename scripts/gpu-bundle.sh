#!/bin/sh
# gpu-bundle.sh - packs what a bare GPU machine (CUDA, no Lua/OpenBLAS/busted,
# no Debian datasets, no network) needs to run the GPU checks: the build
# (with luatrain_cuda.so), the shared libraries it links, busted and its Lua
# modules, Fashion-MNIST and the fortunes text, into .gpu/bundle.tgz (git
# ignored). On the GPU machine: sh scripts/gpu-unbundle.sh && . .gpu/env.sh
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
make -j2 BUILD="$BUILD" all >/dev/null
test -f "$BUILD/luatrain_cuda.so"
rm -rf .gpu && mkdir -p .gpu/stage/lib .gpu/stage/lua/share .gpu/stage/lua/lib .gpu/stage/data/fashionmnist .gpu/stage/data/fortunes .gpu/stage/bin
for so in $(ldd "$BUILD/luatrain" | awk '/=>/ {print $3}'); do
  case "$so" in */libc.so*|*/libm.so*|*/libdl.so*|*/libpthread.so*|*/ld-linux*) ;; *) cp -L "$so" .gpu/stage/lib/ ;; esac
done
cp -rL /usr/share/lua/5.4/. .gpu/stage/lua/share/
cp -rL /usr/lib/x86_64-linux-gnu/lua/5.4/. .gpu/stage/lua/lib/
tail -n +2 /usr/bin/busted > .gpu/stage/bin/busted.lua
cp /usr/share/datasets/fashion-mnist/*.gz .gpu/stage/data/fashionmnist/
for f in /usr/share/games/fortunes/*; do
  case "$f" in *.dat|*.u8) ;; *) [ -f "$f" ] && cp "$f" .gpu/stage/data/fortunes/ ;; esac
done
cp -r "$BUILD" .gpu/stage/build
rm -rf .gpu/stage/build/obj .gpu/stage/build/libltengine.a
for f in .gpu/stage/build/luatrain .gpu/stage/build/*.so .gpu/stage/build/tests/* .gpu/stage/lib/*; do
  strip --strip-debug "$f" 2>/dev/null || true
done
tar cf - -C .gpu/stage . | xz -T2 -6 > .gpu/bundle.tgz
rm -rf .gpu/stage
ls -la .gpu/bundle.tgz
