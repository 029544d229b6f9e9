#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then: the installed program finds
# its default model from any working directory; examples/minimal_client.c
# builds against the installed tree both with pkg-config --static and with
# find_package(cryptogen); and its tokens, generated privately against the
# installed `cryptogen serve`, equal the fixed-point emulator's.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/server.log" ] && { echo "--- server log"; cat "$tmp/server.log"; }; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || fail "cmake --install"
for f in bin/cryptogen lib/libcryptogen.a include/cryptogen/cryptogen.h include/cryptogen/proto.h \
         lib/pkgconfig/cryptogen.pc lib/cmake/cryptogen/cryptogenConfig.cmake \
         share/cryptogen/models/default/config.json; do
    [ -e "$prefix/$f" ] || fail "missing $f"
done
# Nothing but cg_ names (and the linker's own) leaves the library.
bad=$(nm -g --defined-only "$prefix/lib/libcryptogen.a" | awk 'NF==3 {print $3}' | grep -v '^cg_' || true)
[ -z "$bad" ] || fail "exported non-cg_ symbols: $bad"

# The installed program, moved away from the source tree, finds its model.
mv "$prefix" "$tmp/moved" && prefix=$tmp/moved
( cd / && "$prefix/bin/cryptogen" generate --local-fixed --prompt "Once upon a time" -n 2 --json ) \
    > "$tmp/local.json" || fail "installed cryptogen did not find its default model"

# pkg-config, static link, relocated prefix.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc -std=c17 -Wall -Wextra -Werror "$src/examples/minimal_client.c" -o "$tmp/client_pc" \
    $(pkg-config --cflags --libs --static cryptogen) || fail "pkg-config build"
# CMake package.
cmake -S "$src/examples" -B "$tmp/examples" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log"; fail "find_package(cryptogen)"; }
cmake --build "$tmp/examples" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "examples build"; }

# The example against the installed server, from / (default model lookup).
cd /
pin=$("$prefix/bin/cryptogen" tls-cert --out "$tmp" 2> /dev/null)
"$prefix/bin/cryptogen" serve --listen 127.0.0.1:0 --max-sessions 1 --tls-cert "$tmp/cert.pem" \
    --tls-key "$tmp/key.pem" 2> "$tmp/server.log" &
server_pid=$!
for _ in $(seq 3000); do
    port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "server did not start"
"$tmp/examples/minimal_client" 127.0.0.1:$port "$pin" "$prefix/share/cryptogen/models/default" \
    "Once upon a time" 2 > "$tmp/got.txt" || fail "minimal_client (find_package build)"
got=$(head -n 1 "$tmp/got.txt")
want=$(sed -n 's/.*"tokens": \[\([0-9, ]*\)\].*/\1/p' "$tmp/local.json" | tr -d ' ')
[ "$got" = "$want" ] || fail "example's tokens $got != emulator's $want"
"$tmp/client_pc" 127.0.0.1:$port "$pin" "$prefix/share/cryptogen/models/default" "Once upon a time" 2 \
    > "$tmp/got_pc.txt" || fail "minimal_client (pkg-config build)"
[ "$(head -n 1 "$tmp/got_pc.txt")" = "$want" ] || fail "pkg-config example's tokens differ"
echo "installed tree: example built with pkg-config and find_package; tokens $got equal the emulator's"
