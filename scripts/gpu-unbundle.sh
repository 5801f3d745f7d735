#!/bin/sh
# gpu-unbundle.sh - unpacks .gpu/bundle.tgz (see gpu-bundle.sh) into .gpu/ and
# writes .gpu/env.sh, which sets BUILD, LD_LIBRARY_PATH, Lua paths, a
# `busted` on PATH and LUATRAIN_DATA_DIR for the GPU checks.
set -e
cd "$(dirname "$0")/.."
mkdir -p .gpu/root
if command -v xz >/dev/null 2>&1; then xz -dc .gpu/bundle.tgz | tar xf - -C .gpu/root
else python3 -c "import lzma,sys; sys.stdout.buffer.write(lzma.open('.gpu/bundle.tgz').read())" | tar xf - -C .gpu/root
fi
R=$(pwd)/.gpu/root
cat > "$R/bin/busted" <<EOS
#!/bin/sh
exec "$R/build/luatrain" "$R/bin/busted.lua" "\$@"
EOS
chmod +x "$R/bin/busted"
cat > .gpu/env.sh <<EOS
export BUILD=.gpu/root/build
export LD_LIBRARY_PATH=$R/lib:\${LD_LIBRARY_PATH:-}
export LUA_PATH="$R/lua/share/?.lua;$R/lua/share/?/init.lua;;"
export LUA_CPATH="$R/lua/lib/?.so;;"
export PATH=$R/bin:\$PATH
export LUATRAIN_DATA_DIR=$R/data
export SKIP_BUILD=1
EOS
