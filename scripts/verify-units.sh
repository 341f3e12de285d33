#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd with systemd-analyze verify:
# each unit (the template as instance @1) with ExecStart pointing at the
# binary given as $1, so that the command exists. Any message from verify
# (systemd only warns, exit 0, about a setting it cannot parse) fails.
set -euo pipefail
bin=$(realpath "$1")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
units=()
for f in deploy/systemd/*.service; do
  name=$(basename "$f")
  sed "s|/usr/local/bin/hourglass|$bin|g" "$f" > "$dir/$name"
  case "$name" in
    *@.service) units+=("$dir/${name%@.service}@1.service") ;;
    *) units+=("$dir/$name") ;;
  esac
done
out=$(systemd-analyze verify "${units[@]}" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify: $out"
  exit 1
fi
echo "systemd units verified: ${units[*]##*/}"
