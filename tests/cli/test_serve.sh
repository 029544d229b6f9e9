#!/usr/bin/env bash
# `cryptogen serve` with two `cryptogen generate` clients at once as separate
# processes over loopback, inside TLS with a certificate from `cryptogen
# tls-cert` that the clients pin: their tokens must equal the fixed-point
# emulator's. Then a client killed mid-generation must end only its own
# session, idle sockets must not hold the session slots, a wrong pin and a
# plaintext client are refused with a clear error, a plaintext server serves
# only plaintext clients, and SIGTERM must stop the server cleanly.
# Usage: test_serve.sh PATH/TO/cryptogen MODEL_DIR
set -euo pipefail
bin=$1
model=$2
shape=2,2,32,300,64
tmp=$(mktemp -d)
server_pid=
plain_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
    [ -n "$plain_pid" ] && kill -9 "$plain_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- server log"; cat "$tmp/server.log"; exit 1; }
tokens() { sed -n 's/.*"tokens": \[\([0-9, ]*\)\].*/\1/p' "$1"; }

pin=$("$bin" tls-cert --out "$tmp" 2> /dev/null)
[ ${#pin} -eq 64 ] || { echo "FAIL: tls-cert printed no pin: $pin"; exit 1; }
tls=(--tls-pin "$pin")
"$bin" serve --model "$model" --random $shape --seed 3 --listen 127.0.0.1:0 --max-sessions 2 --timeout 10 \
    --handshake-timeout 3 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" 2> "$tmp/server.log" &
server_pid=$!
for _ in $(seq 1000); do
    port=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "server did not start"

"$bin" generate --local-fixed --model "$model" --random $shape --seed 3 --prompt-ids 5,6,7 -n 5 --json > "$tmp/want1.json"
"$bin" generate --local-fixed --model "$model" --random $shape --seed 3 --prompt-ids 42,1,200,9 -n 5 --json > "$tmp/want2.json"

"$bin" generate --connect 127.0.0.1:$port "${tls[@]}" --model "$model" --prompt-ids 5,6,7 -n 5 --json > "$tmp/got1.json" &
c1=$!
"$bin" generate --connect 127.0.0.1:$port "${tls[@]}" --model "$model" --prompt-ids 42,1,200,9 -n 5 --json > "$tmp/got2.json" &
c2=$!
wait $c1 || fail "client 1 failed"
wait $c2 || fail "client 2 failed"
[ "$(tokens "$tmp/got1.json")" = "$(tokens "$tmp/want1.json")" ] || fail "client 1: $(tokens "$tmp/got1.json") != $(tokens "$tmp/want1.json")"
[ "$(tokens "$tmp/got2.json")" = "$(tokens "$tmp/want2.json")" ] || fail "client 2: $(tokens "$tmp/got2.json") != $(tokens "$tmp/want2.json")"
grep -q '"time_to_first_token_seconds": [0-9]' "$tmp/got1.json" || fail "generate --json gives no time to first token"
echo "two concurrent clients: tokens equal the emulator's ($(tokens "$tmp/got1.json") / $(tokens "$tmp/got2.json"))"

# Kill a client in the middle of its generation.
"$bin" generate --connect 127.0.0.1:$port "${tls[@]}" --model "$model" --prompt-ids 1,2 -n 40 --json > /dev/null 2>&1 &
victim=$!
for _ in $(seq 2000); do
    [ "$(grep -c 'accepted' "$tmp/server.log")" -ge 3 ] && break
    sleep 0.1
done
sleep 2
kill -9 $victim
wait $victim 2>/dev/null || true
for _ in $(seq 1000); do
    grep -q 'session 3: ended' "$tmp/server.log" && break
    sleep 0.1
done
grep -q 'session 3: ended' "$tmp/server.log" || fail "server did not log the killed session"
kill -0 "$server_pid" || fail "server died with its client"

# ... and the server still serves.
"$bin" generate --connect 127.0.0.1:$port "${tls[@]}" --model "$model" --prompt-ids 5,6,7 -n 5 --json > "$tmp/got3.json" || fail "client after the kill failed"
[ "$(tokens "$tmp/got3.json")" = "$(tokens "$tmp/want1.json")" ] || fail "client after the kill: wrong tokens"
echo "killed client: its session ended alone ($(grep 'session 3' "$tmp/server.log" | tail -1)); the server went on"

# A stop string ends the session early, on both sides; the text stops before it.
stop_at=$(python3 - "$bin" "$model" <<'PY'
import json, subprocess, sys
# the text of the first three tokens: a stop string found after the third
out = subprocess.run([sys.argv[1], "generate", "--local-fixed", "--model", sys.argv[2], "--random", "2,2,32,300,64",
                      "--seed", "3", "--prompt-ids", "5,6,7", "-n", "3", "--json"], capture_output=True, text=True)
t = json.loads(out.stdout)["text"]
print(t[-2:] if len(t) >= 2 else t, end="")
PY
)
"$bin" generate --connect 127.0.0.1:$port "${tls[@]}" --model "$model" --prompt-ids 5,6,7 -n 5 --stop "$stop_at" --json \
    > "$tmp/stop.json" || fail "client with --stop failed"
"$bin" generate --local-fixed --model "$model" --random $shape --seed 3 --prompt-ids 5,6,7 -n 5 --stop "$stop_at" \
    --json > "$tmp/stop_want.json"
[ "$(tokens "$tmp/stop.json")" = "$(tokens "$tmp/stop_want.json")" ] \
    || fail "--stop: secure $(tokens "$tmp/stop.json") != emulator $(tokens "$tmp/stop_want.json")"
ntok=$(tokens "$tmp/stop.json" | tr ',' '\n' | grep -c .)
[ "$ntok" -lt 5 ] || fail "--stop '$stop_at' did not end the generation early ($ntok tokens)"
grep -q '"stop_reason": "stop string"' "$tmp/stop.json" || fail "--stop: no stop reason"
for _ in $(seq 1000); do
    grep -q "session 5: done, $ntok steps" "$tmp/server.log" && break
    sleep 0.1
done
grep -q "session 5: done, $ntok steps" "$tmp/server.log" || fail "the server did not end session 5 after $ntok steps"
echo "--stop '$stop_at': both parties ended after $ntok of 5 tokens, tokens equal the emulator's"

# Two silent sockets, as many as there are session slots, do not block a
# third client: a slot is taken only after the handshake and the request.
exec 3<>/dev/tcp/127.0.0.1/$port
exec 4<>/dev/tcp/127.0.0.1/$port
"$bin" generate --connect 127.0.0.1:$port "${tls[@]}" --model "$model" --prompt-ids 5,6,7 -n 5 --json > "$tmp/got4.json" \
    || fail "a client behind two idle sockets failed"
[ "$(tokens "$tmp/got4.json")" = "$(tokens "$tmp/want1.json")" ] || fail "client behind idle sockets: wrong tokens"
for _ in $(seq 1000); do
    [ "$(grep -c 'handshake deadline' "$tmp/server.log")" -ge 2 ] && break
    sleep 0.1
done
exec 3>&- 4>&-
[ "$(grep -c 'handshake deadline' "$tmp/server.log")" -ge 2 ] || fail "idle sockets were not dropped at the handshake deadline"
echo "two idle sockets: a third client was served, the sockets dropped at the handshake deadline"

# Garbage, a wrong pin and a plaintext client are refused before a session.
head -c 5000 /dev/urandom > /dev/tcp/127.0.0.1/$port || true
bad_pin=$(echo "$pin" | tr '0-9a-f' '1-9a-f0')
if "$bin" generate --connect 127.0.0.1:$port --tls-pin "$bad_pin" --model "$model" --prompt-ids 5 -n 1 2> "$tmp/err"; then
    fail "a wrong pin was accepted"
fi
grep -q "does not match the pin" "$tmp/err" || fail "wrong pin: unclear error: $(cat "$tmp/err")"
if "$bin" generate --connect 127.0.0.1:$port --insecure-plaintext --model "$model" --prompt-ids 5 -n 1 2> "$tmp/err"; then
    fail "a plaintext client was served by a TLS server"
fi
grep -q "server speaks TLS" "$tmp/err" || fail "plaintext client: unclear error: $(cat "$tmp/err")"
for _ in $(seq 1000); do
    [ "$(grep -c 'dropped before its session' "$tmp/server.log")" -ge 5 ] && break
    sleep 0.1
done
[ "$(grep -c 'dropped before its session' "$tmp/server.log")" -ge 5 ] || fail "garbage, wrong pin, plaintext: not all dropped"
kill -0 "$server_pid" || fail "server died"
echo "garbage, a wrong pin, a plaintext client: refused ($(grep -c 'dropped before' "$tmp/server.log") dropped), the server lives"

# Plain TCP only when both sides ask for it.
"$bin" serve --model "$model" --random $shape --seed 3 --listen 127.0.0.1:0 --insecure-plaintext 2> "$tmp/plain.log" &
plain_pid=$!
for _ in $(seq 1000); do
    pport=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$tmp/plain.log")
    [ -n "$pport" ] && break
    sleep 0.1
done
[ -n "$pport" ] || fail "plaintext server did not start"
"$bin" generate --connect 127.0.0.1:$pport --insecure-plaintext --model "$model" --prompt-ids 5,6,7 -n 5 --json > "$tmp/got5.json" \
    || fail "plaintext client at a plaintext server failed"
[ "$(tokens "$tmp/got5.json")" = "$(tokens "$tmp/want1.json")" ] || fail "plaintext: wrong tokens"
if "$bin" generate --connect 127.0.0.1:$pport "${tls[@]}" --model "$model" --prompt-ids 5 -n 1 2> "$tmp/err"; then
    fail "a TLS client was served by a plaintext server"
fi
grep -q "without a TLS answer" "$tmp/err" || fail "TLS client at a plaintext server: unclear error: $(cat "$tmp/err")"
# A second SIGTERM while a session runs ends the server at once.
"$bin" generate --connect 127.0.0.1:$pport --insecure-plaintext --model "$model" --prompt-ids 1,2 -n 60 \
    > /dev/null 2>&1 &
long_client=$!
for _ in $(seq 2000); do
    grep -q 'session 3: accepted' "$tmp/plain.log" && break
    sleep 0.1
done
kill -TERM "$plain_pid"
sleep 0.5
kill -0 "$plain_pid" 2> /dev/null || fail "the first SIGTERM did not wait for the running session: $(cat "$tmp/plain.log")"
kill -TERM "$plain_pid"
rc=0
wait "$plain_pid" || rc=$?
plain_pid=
[ "$rc" -eq 130 ] || fail "second SIGTERM: exit status $rc, not 130"
grep -q 'second signal' "$tmp/plain.log" || fail "second SIGTERM: not logged"
wait "$long_client" 2> /dev/null || true
echo "plaintext on both sides works; a TLS client at a plaintext server gets a clear error; a second SIGTERM exits at once"

# A full server queues a new session and says so to the client.
"$bin" serve --model "$model" --random $shape --seed 3 --listen 127.0.0.1:0 --max-sessions 1 --insecure-plaintext \
    2> "$tmp/one.log" &
one_pid=$!
for _ in $(seq 1000); do
    oport=$(sed -n 's/.* on port \([0-9]*\) .*/\1/p' "$tmp/one.log")
    [ -n "$oport" ] && break
    sleep 0.1
done
"$bin" generate --connect 127.0.0.1:$oport --insecure-plaintext --model "$model" --prompt-ids 1,2 -n 12 \
    > /dev/null 2>&1 &
first=$!
for _ in $(seq 2000); do grep -q 'session 1: accepted' "$tmp/one.log" && break; sleep 0.1; done
"$bin" generate --connect 127.0.0.1:$oport --insecure-plaintext --model "$model" --prompt-ids 5,6,7 -n 5 --json \
    --progress json > "$tmp/queued.json" 2> "$tmp/queued.err" || fail "queued client failed: $(cat "$tmp/queued.err")"
wait "$first" || fail "the first client of a one-slot server failed"
kill -TERM "$one_pid"; wait "$one_pid" || true
grep -q '"phase": "queued", "done": 1, "total": 1' "$tmp/queued.err" || fail "the queued client was not told: $(head -3 "$tmp/queued.err")"
grep -q 'waiting for a free session (1 of 1 busy)' "$tmp/one.log" || fail "the server did not log the queue"
[ "$(tokens "$tmp/queued.json")" = "$(tokens "$tmp/want1.json")" ] || fail "queued client: wrong tokens"
echo "a full server queues a new session, tells its client, then serves it"

# Log lines carry the time (UTC, ms) and the client's address.
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z session 1: accepted from 127\.0\.0\.1:[0-9]+ ' "$tmp/server.log" \
    || fail "log lines without time or peer: $(grep accepted "$tmp/server.log" | head -1)"

kill -TERM "$server_pid"
wait "$server_pid" || fail "server exit status $?"
server_pid=
grep -q 'stopped' "$tmp/server.log" || fail "no clean stop"
echo "SIGTERM: clean stop"
