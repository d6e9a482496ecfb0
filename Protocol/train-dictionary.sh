#!/usr/bin/env bash
# Trains the protocol's zstd dictionary from generated representative messages and embeds it in
# Sources/AuroraWire/GeneratedDictionaries.swift. A dictionary is part of the protocol: once
# released, its id never changes meaning. Train a new one under a new id instead of replacing it.
#   usage: Protocol/train-dictionary.sh ID      (needs the zstd CLI: Debian package zstd)
set -euo pipefail
id=${1:?usage: train-dictionary.sh ID}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
samples=$(mktemp -d)
trap 'rm -rf "$samples"' EXIT
(cd "$root" && swift build --product aurora-protocol-tools >/dev/null)
"$root/.build/debug/aurora-protocol-tools" dictionary-samples --out "$samples" --count 4000
zstd -q -f --train "$samples"/* -o "$here/dictionaries/aurora-$id.dict" --maxdict=16384 --dictID="$id"
"$here/embed-dictionaries.sh"
