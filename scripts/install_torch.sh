#!/usr/bin/env bash
# Installs PyTorch's LibTorch from pip into a virtual environment outside the repository and
# prints its torch package folder (what CMAKE_PREFIX_PATH / BCP_TORCH take).
# Usage: scripts/install_torch.sh [VERSION]   (default 2.13.0, a CPU build;
#        2.14.1 is a CUDA build of about 5.5 GB)
# The venv: $BCP_TORCH_VENV, default /opt/bcp/torch-VERSION (or ~/.cache/bcp/... without root).
set -euo pipefail
version=${1:-2.13.0}
root=/opt/bcp
[ -w /opt ] || root=${XDG_CACHE_HOME:-$HOME/.cache}/bcp
venv=${BCP_TORCH_VENV:-$root/torch-$version}
# The pyenv python on PATH, not Debian's: pip's wheels of torch are for this Python.
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" \
     2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check "torch==$version" >&2
fi
# The package folder itself (not share/cmake): CMake then finds LibTorch's libraries there
# before the system's (Debian's libtorch-dev).
"$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null
