#!/usr/bin/env bash
# The HTTP API from outside: builds the carts example server (Examples/Carts, StrataHTTP), starts it on loopback
# with a fresh store, and runs schemathesis (from PyPI, installed into a virtualenv under .build-schemathesis/ when
# missing) against its /openapi.json with the development token it prints: every documented operation but the
# endless live feed, with generated valid and invalid inputs. Fails on any 5xx, any response that does not match
# its documented status, content type, headers or schema, and on valid inputs refused or invalid ones accepted.
#
#   scripts/http-api-check.sh [MAX_SECONDS]   (default 120: the fuzzing phase repeats until then)
set -euo pipefail
cd "$(dirname "$0")/.."
max_seconds="${1:-120}"
schemathesis_version="4.32.5"
venv=".build-schemathesis/venv-$schemathesis_version"
if [ ! -x "$venv/bin/schemathesis" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$schemathesis_version"
fi
swift build --product carts-server
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
# A short read-your-writes wait: generated `after` positions the store does not have answer 400 once it has passed.
.build/debug/carts-server --store "$work/store" --tenant acme --read-your-writes-ms 200 > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    grep -q '^export STRATA_TOKEN=' "$work/server.log" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "carts-server did not start"; exit 1; }
    sleep 0.2
done
eval "$(grep '^export STRATA_' "$work/server.log")"
echo "carts-server on $STRATA_URL"
cat > "$work/schemathesis.toml" <<TOML
# Every operation is called for the tenant the token is for (other tenants: 403, tested route by route in Swift).
[parameters]
"path.tenant" = "acme"
TOML
status=0
"$venv/bin/schemathesis" --no-color --config-file "$work/schemathesis.toml" run "$STRATA_URL/openapi.json" \
    --header "Authorization: Bearer $STRATA_TOKEN" \
    --exclude-operation-id liveFeed \
    --phases examples,fuzzing --checks all --exclude-checks object_level_authorization,positive_data_acceptance \
    --max-time "$max_seconds" --request-timeout 30 --workers 2 \
    --suppress-health-check all || status=$?
if [ "$status" -ne 0 ]; then
    echo "schemathesis failed; the server's log:"
    tail -50 "$work/server.log"
fi
exit "$status"
