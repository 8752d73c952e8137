#!/usr/bin/env bash
# Make sure the system programs the harness uses are present: prometheus (the embedded stack's
# server), redis-server (the optional L2 cache), hey (the reference client of `make bench`) and
# chromium (headless, for the report test and `make report-shot`).
# Installs them with apt-get when run as root (or with passwordless sudo); otherwise says exactly
# what to install. Usage: scripts/system-deps.sh [program ...]   (default: prometheus redis-server)
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(prometheus redis-server)
missing=()
for prog in "${wanted[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || missing+=("$prog")
done
[ ${#missing[@]} -eq 0 ] && exit 0

pkgs=()
for prog in "${missing[@]}"; do
  case "$prog" in
    prometheus) pkgs+=(prometheus) ;;
    redis-server) pkgs+=(redis-server) ;;
    hey) pkgs+=(hey) ;;
    chromium) pkgs+=(chromium) ;;
    *) pkgs+=("$prog") ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    echo "edgeperf: missing programs: ${missing[*]}" >&2
    echo "  install them, e.g. on Debian/Ubuntu: sudo apt-get install -y ${pkgs[*]}" >&2
    echo "  (Prometheus is also at https://prometheus.io/download/; put 'prometheus' on PATH)" >&2
    exit 2
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "edgeperf: missing programs: ${missing[*]} and no apt-get here." >&2
  echo "  install the packages ${pkgs[*]} with your system's package manager" >&2
  exit 2
fi
echo "edgeperf: installing ${pkgs[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
for prog in "${missing[@]}"; do
  if ! command -v "$prog" >/dev/null 2>&1; then
    echo "edgeperf: '$prog' is still missing after installing ${pkgs[*]}" >&2
    exit 2
  fi
done
