#!/usr/bin/env bash
# `cryptogen serve` with two `cryptogen generate` clients at once as separate
# processes over loopback: their tokens must equal the fixed-point
# emulator's. Then a client killed mid-generation must end only its own
# session, and SIGTERM must stop the server cleanly.
# Usage: test_serve.sh PATH/TO/cryptogen MODEL_DIR
set -euo pipefail
bin=$1
model=$2
shape=2,2,32,300,64
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- server log"; cat "$tmp/server.log"; exit 1; }
tokens() { sed -n 's/.*"tokens": \[\([0-9, ]*\)\].*/\1/p' "$1"; }

"$bin" serve --model "$model" --random $shape --seed 3 --listen 127.0.0.1:0 --max-sessions 2 --timeout 10 \
    2> "$tmp/server.log" &
server_pid=$!
for _ in $(seq 100); do
    port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "server did not start"

"$bin" generate --local-fixed --model "$model" --random $shape --seed 3 --prompt-ids 5,6,7 -n 5 --json > "$tmp/want1.json"
"$bin" generate --local-fixed --model "$model" --random $shape --seed 3 --prompt-ids 42,1,200,9 -n 5 --json > "$tmp/want2.json"

"$bin" generate --connect 127.0.0.1:$port --model "$model" --prompt-ids 5,6,7 -n 5 --json > "$tmp/got1.json" &
c1=$!
"$bin" generate --connect 127.0.0.1:$port --model "$model" --prompt-ids 42,1,200,9 -n 5 --json > "$tmp/got2.json" &
c2=$!
wait $c1 || fail "client 1 failed"
wait $c2 || fail "client 2 failed"
[ "$(tokens "$tmp/got1.json")" = "$(tokens "$tmp/want1.json")" ] || fail "client 1: $(tokens "$tmp/got1.json") != $(tokens "$tmp/want1.json")"
[ "$(tokens "$tmp/got2.json")" = "$(tokens "$tmp/want2.json")" ] || fail "client 2: $(tokens "$tmp/got2.json") != $(tokens "$tmp/want2.json")"
grep -q '"time_to_first_token_seconds": [0-9]' "$tmp/got1.json" || fail "generate --json gives no time to first token"
echo "two concurrent clients: tokens equal the emulator's ($(tokens "$tmp/got1.json") / $(tokens "$tmp/got2.json"))"

# Kill a client in the middle of its generation.
"$bin" generate --connect 127.0.0.1:$port --model "$model" --prompt-ids 1,2 -n 40 --json > /dev/null 2>&1 &
victim=$!
for _ in $(seq 200); do
    [ "$(grep -c 'accepted' "$tmp/server.log")" -ge 3 ] && break
    sleep 0.1
done
sleep 2
kill -9 $victim
wait $victim 2>/dev/null || true
for _ in $(seq 100); do
    grep -q 'session 3: ended' "$tmp/server.log" && break
    sleep 0.1
done
grep -q 'session 3: ended' "$tmp/server.log" || fail "server did not log the killed session"
kill -0 "$server_pid" || fail "server died with its client"

# ... and the server still serves.
"$bin" generate --connect 127.0.0.1:$port --model "$model" --prompt-ids 5,6,7 -n 5 --json > "$tmp/got3.json" || fail "client after the kill failed"
[ "$(tokens "$tmp/got3.json")" = "$(tokens "$tmp/want1.json")" ] || fail "client after the kill: wrong tokens"
echo "killed client: its session ended alone ($(grep 'session 3' "$tmp/server.log" | tail -1)); the server went on"

# Garbage and a silent client end their own sessions too.
head -c 5000 /dev/urandom > /dev/tcp/127.0.0.1/$port || true
exec 3<>/dev/tcp/127.0.0.1/$port
for _ in $(seq 200); do
    [ "$(grep -c 'ended' "$tmp/server.log")" -ge 3 ] && break
    sleep 0.1
done
sleep 11
exec 3>&-
for _ in $(seq 100); do
    grep -q 'stalled\|timeout' "$tmp/server.log" && break
    sleep 0.1
done
grep -q 'stalled\|timeout' "$tmp/server.log" || fail "a silent client was not timed out"
[ "$(grep -c 'ended' "$tmp/server.log")" -ge 3 ] || fail "garbage did not end its session"
kill -0 "$server_pid" || fail "server died"
echo "garbage and a silent client: sessions ended ($(grep -c ended "$tmp/server.log") ended in all), the server lives"

kill -TERM "$server_pid"
wait "$server_pid" || fail "server exit status $?"
server_pid=
grep -q 'stopped' "$tmp/server.log" || fail "no clean stop"
echo "SIGTERM: clean stop"
