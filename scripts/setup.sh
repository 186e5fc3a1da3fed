#!/usr/bin/env bash
# Set up everything the toolkit and its tests need on a fresh Debian machine:
# the apt packages (JACK dummy server, PortAudio, python3-venv) when missing, and a virtual
# environment in .venv with the package installed in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

need_apt=()
command -v jackd >/dev/null 2>&1 || need_apt+=(jackd2)
ldconfig -p 2>/dev/null | grep -q 'libportaudio.so.2' || need_apt+=(libportaudio2)
# stock Debian's python3 has no venv/ensurepip until python3-venv is installed
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing apt packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing apt packages ${need_apt[*]} (run as root: apt-get install ${need_apt[*]});" \
         "hardware tests will be skipped" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing the toolkit and its dependencies into $VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e ".[test,bench]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
