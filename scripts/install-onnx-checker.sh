#!/usr/bin/env bash
# Install Debian's python3-onnx (with numpy), the independent checker the ONNX tests run over every exported graph
# (onnx.checker.check_model with full shape inference) and the reader the safetensors test loads files with
# (numpy). The tests skip those checks, with a message, when it is absent.
#
# Idempotent: re-running only re-checks that the packages are present.
set -euo pipefail

PACKAGES=(python3-onnx python3-numpy)

SCRIPT=install-onnx-checker.sh
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

ensure_installed

/usr/bin/python3 -c 'import onnx; print("install-onnx-checker.sh: onnx", onnx.__version__, "ok")'
