#!/usr/bin/env bash
# The option parser, through the binary: every command's --help goes to
# stdout with exit 0 and names each of its options; a usage error goes to
# stderr with exit 2, names the option and what is wrong, and points to
# --help; the command lines written in README.md, docs/ and scripts/ are
# still accepted (checked by appending --help: options are read in order, so
# everything before it has been parsed and its values checked when the help
# is printed).
# Usage: test_cli.sh PATH/TO/cryptogen MODEL_DIR
# shellcheck disable=SC2015 # "A && B || fail" is meant: fail unless both hold
set -uo pipefail
bin=$1
model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run ARGS...: sets rc, out and err.
run() {
    "$bin" "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# check_help "CMD WORDS" OPTION...: --help exits 0 on stdout and names each option.
check_help() {
    local cmd=$1
    shift
    # shellcheck disable=SC2086 # the command's words split on purpose
    run $cmd --help
    local name="cryptogen${cmd:+ $cmd}"
    [ "$rc" -eq 0 ] || fail "'$name --help' exits $rc"
    [ -z "$err" ] || fail "'$name --help' writes on stderr: $err"
    grep -q "^usage: $name " <<< "$out" || fail "'$name --help' has no usage line"
    for o in "$@" --help; do
        grep -qE -- "(^|[ ,])$o( |,|\$)" <<< "$out" || fail "'$name --help' does not name $o"
    done
}

# usage_error "CMD WORDS" "EXPECTED MESSAGE" ARGS...: exit 2, nothing on
# stdout, the message and the pointer to --help on stderr.
usage_error() {
    local cmd=$1 want=$2
    shift 2
    # shellcheck disable=SC2086
    run $cmd "$@"
    local name="cryptogen${cmd:+ $cmd}"
    [ "$rc" -eq 2 ] || fail "'$name $*' exits $rc, not 2"
    [ -z "$out" ] || fail "'$name $*' writes on stdout: $out"
    grep -qF -- "$name: $want" <<< "$err" || fail "'$name $*': wanted '$name: $want', got: $err"
    grep -qF -- "try '$name --help'" <<< "$err" || fail "'$name $*' does not point to --help: $err"
}

# accepted "CMD WORDS" ARGS...: the options parse (help printed, exit 0).
accepted() {
    local cmd=$1
    shift
    # shellcheck disable=SC2086
    run $cmd "$@" --help
    [ "$rc" -eq 0 ] && [ -z "$err" ] || fail "'cryptogen $cmd $*' is not accepted (exit $rc): $err"
}

# --help of every command, with every option it had before the shared parser.
check_help "" --version
check_help demo --model --prompt -n --threads
check_help serve --model --listen --random --seed --threads --max-sessions --session-memory \
    --weights-memory --timeout --handshake-timeout --tls-cert --tls-key --insecure-plaintext
check_help generate --connect --local-plaintext --local-fixed --prompt --prompt-file --prompt-ids -n \
    --greedy --temperature --baseline --preset --model --random --seed --threads --json \
    --block-positions --refresh-every --quiet -q --progress --stop --ignore-eos --hide-stop \
    --tls-pin --tls-ca --insecure-plaintext --ot --timeout
check_help tls-cert --out --days
check_help ppl --model --data --format --mode --ctx --stride --limit --threads --json
check_help stats --model --data --tokens --ctx
check_help logits --model --ids --all
check_help version
check_help bench --list
check_help "bench ntt" --json
check_help "bench he" --json --threads --sets
check_help "bench ot" --json --n --n-otn --link --latency-us --mbps --ot
check_help "bench mpc" --json --max --tcp --op --reps --ot
check_help "bench gen" --json --shape --prefix --lengths --mode --baseline-max --threads --rtt-ms --mbps --channel --ot
# the attention kind (issue 13): asked, allowed, measured side by side
check_help serve --attention
check_help generate --attention
check_help "bench gen" --attention
usage_error "bench gen" "--attention 'ctt' is not a comma-separated list of split and ctct" --attention ctt
usage_error serve "--attention 'both' is not one of default, ctct, split" --attention both
accepted "bench gen" --attention split,ctct --json
run -h
[ "$rc" -eq 0 ] && grep -q "generate" <<< "$out" || fail "'cryptogen -h' does not list the commands"

# --version and version.
run --version
[ "$rc" -eq 0 ] && grep -q "^cryptogen [0-9]" <<< "$out" || fail "'cryptogen --version': exit $rc, $out"
version_out=$out
run version
[ "$rc" -eq 0 ] && [ "$out" = "$version_out" ] || fail "'cryptogen version' differs from --version"

# Usage errors say what is wrong.
usage_error generate "unknown option '--foo'" --foo
usage_error generate "the prompt is given twice (an operand and --prompt)" --local-fixed "Once upon" --prompt x
usage_error generate "unexpected argument 'b'" --local-fixed a b
usage_error generate "--progress 'bar' is not one of auto, line, json, none" --local-fixed a --progress bar
usage_error generate "-n needs a value" --local-fixed --prompt x -n
usage_error generate "--prompt needs a value" --local-fixed --prompt
usage_error generate "-n 0 is outside [1, 65536]" --local-fixed --prompt x -n 0
usage_error generate "-n 100000 is outside [1, 65536]" --local-fixed --prompt x -n 100000
usage_error generate "-n 'x' is not an integer" --local-fixed --prompt x -n x
usage_error generate "-n '4x' is not an integer" --local-fixed --prompt x -n 4x
usage_error generate "--temperature 0.01 is outside [0.1, 100]" --connect h:1 --prompt x --temperature 0.01
usage_error generate "--temperature 'hot' is not a number" --connect h:1 --prompt x --temperature hot
usage_error generate "--threads 0 is below 1" --local-fixed --prompt x --threads 0
usage_error generate "--seed '-1' is negative" --local-fixed --prompt x --seed -1
usage_error generate "unknown option '--temp' (did you mean '--temperature'?)" --temp 0.8
usage_error generate "unknown option '--temp' (did you mean '--temperature'?)" --local-fixed --prompt x --temp
usage_error generate "unknown option '--local' (did you mean '--local-plaintext' or '--local-fixed'?)" --local
usage_error generate "--json takes no value" --json=yes
usage_error generate "the prompt is given twice (an operand and --prompt)" --local-fixed --prompt x extra
usage_error generate "--random '2,2' is not gpt2-base" --local-fixed --prompt x --random 2,2
usage_error generate "--prompt-ids '1,,2' is not a comma-separated list" --local-fixed --prompt-ids 1,,2
usage_error generate "give exactly one of --connect, --local-plaintext and --local-fixed" --prompt x
usage_error generate "give the prompt once: as an operand, --prompt, --prompt-file or --prompt-ids" --local-fixed
usage_error generate "--temperature needs --connect" --local-fixed --prompt x --temperature 0.8
usage_error demo "-n 0 is outside [1, 1024]" -n 0
usage_error serve "--listen HOST:PORT is required" --threads 2
usage_error serve "give --tls-cert FILE and --tls-key FILE (or --insecure-plaintext" --listen 127.0.0.1:0
usage_error serve "give --tls-cert FILE and --tls-key FILE" --listen 127.0.0.1:0 --tls-cert c.pem
usage_error serve "--insecure-plaintext excludes --tls-cert and --tls-key" --listen 127.0.0.1:0 --insecure-plaintext --tls-cert c.pem
usage_error serve "--handshake-timeout 0 is outside [1, 3600]" --handshake-timeout 0
usage_error generate "give exactly one of --tls-pin HEX, --tls-ca FILE and --insecure-plaintext" --connect h:1 --prompt x
usage_error generate "give exactly one of --tls-pin HEX, --tls-ca FILE and --insecure-plaintext" --connect h:1 --prompt x --tls-ca a.pem --insecure-plaintext
usage_error generate "--tls-pin 'abc' is not 64 hex digits" --connect h:1 --prompt x --tls-pin abc
usage_error generate "--tls-pin, --tls-ca and --insecure-plaintext go with --connect" --local-fixed --prompt x --insecure-plaintext
usage_error tls-cert "--out DIR is required"
usage_error "bench gen" "--channel 'ssl' is not one of tls, plaintext" --channel ssl
usage_error serve "--timeout 0 is outside [1, 86400]" --listen 127.0.0.1:0 --timeout 0
usage_error serve "--allow-presets: parameter set 'test2048' is insecure (above the 128-bit bound) and refused (allowed: paper,test2048)" --listen 127.0.0.1:0 --allow-presets paper,test2048
usage_error ppl "--mode 'double' is not one of float, fixed" --data x --mode double
usage_error ppl "--stride 8 is not below --ctx 8" --data x --ctx 8 --stride 8
usage_error stats "--data FILE is required"
usage_error logits "--ids '1,a' is not a comma-separated list" --ids 1,a
usage_error version "unexpected argument 'x'" x
usage_error "" "unknown command 'nosuch'" nosuch
usage_error "" "unknown option '--bogus'" --bogus
usage_error bench "unknown benchmark 'nosuch'" nosuch
usage_error "bench ot" "--link 'udp' is not one of inproc, tcp, both" --link udp
usage_error "bench ot" "--n-otn 6 is above --n 5" --n 5 --n-otn 6
usage_error "bench ot" "--ot 'silent' is not one of iknp, ferret, both" --ot silent
usage_error "bench mpc" "--ot 'silent' is not one of iknp, ferret" --ot silent
usage_error "bench mpc" "--reps 0 is outside [1, 100]" --reps 0
usage_error "bench mpc" "--op 'gelo' is not one of" --op gelo
usage_error "bench gen" "--mode 'cach' is not cache, baseline or cache,baseline" --mode cach
usage_error "bench he" "--sets 'paper,x' names an unknown parameter set 'x'" --sets paper,x
usage_error "bench ntt" "unknown option '--foo'" --foo
run
[ "$rc" -eq 2 ] && grep -q "^usage: cryptogen" <<< "$err" || fail "'cryptogen' alone: exit $rc, $err"

# The command lines of README.md, docs/ and scripts/.
pin=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
accepted tls-cert --out tls
accepted serve --model models/default --listen 127.0.0.1:7000 --threads 2 --tls-cert tls/cert.pem --tls-key tls/key.pem
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin --prompt "The history of" -n 16
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin "Once upon a time" -n 64
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin "Once upon a time" -n 64 --stop "."
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin --prompt-file - -n 32
accepted generate --local-fixed "Once upon a time" -n 16
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin --prompt "The history of" -n 16 --baseline
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin --prompt "The history of" -n 16 --temperature 0.8
accepted generate --connect 127.0.0.1:7000 --tls-ca tls/cert.pem --prompt "The history of" -n 16
accepted serve --model models/default --listen 127.0.0.1:7000 --insecure-plaintext
accepted generate --connect 127.0.0.1:7000 --insecure-plaintext --prompt "The history of" -n 16
accepted bench gen --shape 2,2,64,300,64 --lengths 16 --mode cache --channel plaintext --json
accepted generate --local-fixed --prompt "The history of" -n 16
accepted generate --local-plaintext --prompt "The history of" -n 16
accepted ppl --data some.txt --mode fixed --json
accepted ppl --format lambada --ctx 512 --limit 200 --data lambada_test.jsonl --mode fixed --json
accepted stats --data some.txt
accepted stats --data test.txt --tokens 8192
accepted logits --model models/default --ids 464,2106 --all
accepted bench gen --shape gpt2-base --lengths 64,128,256,512 --json
accepted bench gen --shape gpt2-base --lengths 64,512 --mode cache --threads 2 --rtt-ms 40 --mbps 100 --json
accepted bench gen --shape gpt2-base --lengths 64,128,256,512 --mode cache,baseline --baseline-max 64 --threads 2 --json
accepted bench gen --shape 2,2,128,1000,512 --lengths 32,64,128,256 --mode cache,baseline --baseline-max 256 --threads 1 --json
accepted bench gen --shape gpt2-base --lengths 64 --mode cache --prefill 64 --prefill-layers 1 --prefill-rows 1,0 --json
accepted bench ntt --json
accepted bench he --json --threads 2 --sets paper
accepted bench ot --json --link inproc --n 262144 --n-otn 262144
accepted bench ot --json --link both --n 2097152 --n-otn 262144
accepted bench mpc --json --max 3072 --op gelu --tcp
accepted bench mpc --json --max 3072 --op gelu_accurate
accepted bench mpc --json --max 1
accepted serve --model "$model" --random 2,2,32,300,64 --seed 3 --listen 127.0.0.1:0 --max-sessions 2 --timeout 10 \
    --handshake-timeout 3 --tls-cert cert.pem --tls-key key.pem
accepted generate --connect 127.0.0.1:1 --tls-pin $pin --model "$model" --prompt-ids 5,6,7 -n 5 --json
accepted generate --connect 127.0.0.1:1 --insecure-plaintext --model "$model" --prompt-ids 5,6,7 -n 5 --json

# tls-cert writes a certificate whose pin it prints.
run tls-cert --out "$tmp"
[ "$rc" -eq 0 ] && [ ${#out} -eq 64 ] && [ -s "$tmp/cert.pem" ] && [ "$(stat -c %a "$tmp/key.pem")" = 600 ] \
    || fail "tls-cert: exit $rc, pin '$out', $(ls -l "$tmp")"
accepted bench ot --json --link inproc --ot ferret --n 262144 --n-otn 262144
accepted bench mpc --json --max 3072 --op gelu --ot ferret
accepted bench gen --shape gpt2-base --lengths 64 --mode cache --ot ferret --json
accepted generate --connect 127.0.0.1:7000 --tls-pin $pin --prompt "The history of" -n 16 --ot ferret

# One real run past the parser (random weights: fast).
run generate --local-fixed --model "$model" --random 2,2,32,300,64 --seed 3 --prompt-ids 5,6,7 -n 3 --json
[ "$rc" -eq 0 ] && grep -q '"tokens": \[' <<< "$out" || fail "a short local run: exit $rc, $out $err"

# ppl never prints NaN: nothing to score is an error; a path is escaped in JSON.
: > "$tmp/empty.txt"
run ppl --model "$model" --data "$tmp/empty.txt"
[ "$rc" -eq 1 ] && grep -q "nothing to score" <<< "$err" && ! grep -qi nan <<< "$out" \
    || fail "ppl on an empty file: exit $rc, $out $err"
printf 'plain text, not JSON\n' > "$tmp/plain.txt"
run ppl --model "$model" --format lambada --data "$tmp/plain.txt"
[ "$rc" -eq 1 ] && grep -q "no LAMBADA passage" <<< "$err" || fail "ppl lambada on plain text: exit $rc, $err"
odd="$tmp/a \"quoted\" \\ name.txt"
printf 'Once upon a time there was a cat.\n' > "$odd"
run ppl --model "$model" --data "$odd" --json
[ "$rc" -eq 0 ] && python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["data"] == sys.argv[2]' "$out" "$odd" \
    || fail "ppl --json with an odd path: exit $rc, $out"
[ -z "$err" ] || fail "ppl writes progress to a non-terminal stderr: $err"
run stats --model "$model" --data "$odd" --tokens 8
[ "$rc" -eq 0 ] && python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["data"] == sys.argv[2]' "$out" "$odd" \
    || fail "stats with an odd path: exit $rc"
# The prompt as an operand and from standard input, and -q.
run generate --local-fixed --model "$model" --random 2,2,32,300,64 --seed 3 --prompt-ids 5,6,7 -n 3
want=$out
prompt_text="&'(" # the text of token ids 5, 6, 7
run generate --local-fixed --model "$model" --random 2,2,32,300,64 --seed 3 "$prompt_text" -n 3
[ "$rc" -eq 0 ] && [ "$out" = "$want" ] || fail "positional prompt: exit $rc, '$out' != '$want'"
out=$(printf '%s' "$prompt_text" | "$bin" generate --local-fixed --model "$model" --random 2,2,32,300,64 --seed 3 \
      --prompt-file - -n 3 2> "$tmp/err")
[ "$out" = "$want" ] || fail "--prompt-file -: '$out' != '$want' ($(cat "$tmp/err"))"

# A peer that is not a cryptogen server (an HTTP server answering garbage) is named as such.
python3 - "$tmp/http_port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
c.settimeout(5)
try:
    c.recv(65536)
except OSError:
    pass
c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
c.close()
PY
http_pid=$!
for _ in $(seq 500); do [ -s "$tmp/http_port" ] && break; sleep 0.1; done
run generate --connect "127.0.0.1:$(cat "$tmp/http_port")" --insecure-plaintext --model "$model" --prompt-ids 5 -n 1 --timeout 5
[ "$rc" -eq 1 ] && grep -q "not a cryptogen server" <<< "$err" || fail "HTTP server as the peer: exit $rc, $err"
wait "$http_pid" 2> /dev/null || true

# The default model is found from any working directory.
( cd / && "$bin" generate --local-fixed --prompt-ids 5,6 -n 1 --json > "$tmp/out" 2> "$tmp/err" ) \
    || fail "generate from / without --model: $(cat "$tmp/err")"

if [ "$failures" -ne 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo "option parser: all checks passed"
