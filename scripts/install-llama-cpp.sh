#!/usr/bin/env bash
# Installs llama-cpp-python (the llama.cpp backend) into a virtual environment: bash $0 [VENV].
#
# PyPI has llama-cpp-python only as source, which takes about 7 minutes to compile on 2 cores.
# The wheel is therefore built once into a cache outside the repository and installed from there
# ever after (CI reuses the cache between clean clones). Quiet when the version is already there.
set -euo pipefail
venv="${1:-.venv}"
version="0.3.36"
cache="${NAPARI_FADA_WHEEL_CACHE:-$HOME/.cache/napari-fada/wheels}"
python="$venv/bin/python"

[ -x "$python" ] || { echo "no Python at $python: create the virtual environment first" >&2; exit 1; }
installed="$("$python" -c "from importlib.metadata import version as v; print(v('llama_cpp_python'))" 2>/dev/null || true)"
[ "$installed" = "$version" ] && exit 0

find_wheel() { find "$cache" -maxdepth 1 -name "llama_cpp_python-$version-*.whl" 2>/dev/null | sort | head -n 1; }
mkdir -p "$cache"
wheel="$(find_wheel)"
if [ -z "$wheel" ]; then
  if ! command -v c++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends build-essential
  fi
  command -v c++ >/dev/null 2>&1 || { echo "building llama-cpp-python needs a C++ compiler" >&2; exit 1; }
  echo "building llama-cpp-python $version once into $cache (about 7 minutes on 2 cores)..."
  # GGML_NATIVE=OFF: a wheel that runs on any x86-64 CPU with AVX2, not only on this one.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$python" -m pip wheel --quiet --no-deps \
    "llama-cpp-python==$version" -w "$cache"
  wheel="$(find_wheel)"
fi
# The wheel's own requirements (small, pure Python), then the wheel without re-resolving them.
"$python" -m pip install --quiet "numpy>=1.20" "typing-extensions>=4.5" "diskcache>=5.6.1" \
  "jinja2>=2.11.3"
"$python" -m pip install --quiet --no-deps "$wheel"
