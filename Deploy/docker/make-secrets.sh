#!/usr/bin/env bash
# Writes the secrets compose.yaml (and, as files for `kubectl create secret`, Kubernetes) expects:
# the internal service credential, a token key set with one Ed25519 key, the PostgreSQL password and
# the learning-service's database URL and pseudonym key (user ids and domains are stored under it).
# Existing files are kept.
#   Deploy/docker/make-secrets.sh DIR [GATEWAY_BINARY]
set -euo pipefail
dir=${1:?usage: $0 DIR [GATEWAY_BINARY]}
root=$(cd "$(dirname "$0")/../.." && pwd)
gateway=${2:-$root/.build/release/gateway}
mkdir -p "$dir"
umask 077
[ -s "$dir/internal_secret" ] || head -c 48 /dev/urandom | base64 -w0 >"$dir/internal_secret"
[ -s "$dir/pseudonym_keys" ] || printf 'k1 %s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$dir/pseudonym_keys"
[ -s "$dir/postgres_password" ] || head -c 24 /dev/urandom | base64 -w0 | tr -d '/+=' >"$dir/postgres_password"
[ -s "$dir/database_url" ] || printf 'postgresql://aurora:%s@postgres:5432/aurora' "$(cat "$dir/postgres_password")" >"$dir/database_url"
if [ ! -s "$dir/jwks.json" ]; then
  [ -x "$gateway" ] || (cd "$root" && swift build -c release --product gateway >/dev/null)
  "$gateway" keys generate --out "$dir/jwks.json" --alg EdDSA --kid "k-$(date +%Y%m%d)" >/dev/null
fi
echo "secrets in $dir: internal_secret jwks.json pseudonym_keys postgres_password database_url"
