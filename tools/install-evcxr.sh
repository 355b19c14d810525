#!/usr/bin/env bash
# Install the evcxr REPL (crate evcxr_repl, command `evcxr`), which tests/evcxr.rs drives through
# the README's interactive session. Returns at once when it is already installed.
#
#   tools/install-evcxr.sh          install if missing (15 to 30 minutes on 2 cores, once)
#
# EVCXR_VERSION overrides the version (default 0.22.0, the one the test was written against).
# For Jupyter, also run `cargo install evcxr_jupyter --locked && evcxr_jupyter --install`.
set -euo pipefail

version="${EVCXR_VERSION:-0.22.0}"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

for exe in evcxr evcxr_repl; do
    if command -v "$exe" >/dev/null 2>&1 || [ -x "$cargo_bin/$exe" ]; then
        exit 0
    fi
done

if ! command -v cargo >/dev/null 2>&1; then
    echo "install-evcxr: cargo not found; install a Rust toolchain (https://rustup.rs) first" >&2
    exit 1
fi

echo "install-evcxr: installing evcxr_repl $version into $cargo_bin (15 to 30 minutes on 2 cores, once)"
cargo install evcxr_repl --version "$version" --locked
echo "install-evcxr: done; run it as \`evcxr\` (add $cargo_bin to PATH if it is not there)"
