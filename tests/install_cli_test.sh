#!/usr/bin/env bash
# `cmake --install` of the build beside the binary puts the binary, its plugins, the man page and
# the bash completion in place; the man page renders; the completion offers sub-commands, flags and the
# kernel, mask and CP method names the installed binary lists; --version names the build and
# the commit it was built from.
set -u
longca=$1
build=$(dirname "$(realpath "$longca")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
bin=$tmp/prefix/bin/longca
[ -x "$bin" ] || fail "no bin/longca"
[ -f "$tmp/prefix/share/man/man1/longca.1" ] || fail "no share/man/man1/longca.1"
comp=$tmp/prefix/share/bash-completion/completions/longca
[ -f "$comp" ] || fail "no share/bash-completion/completions/longca"
# The plugins built beside the binary (lib/longca/*.so; none without CUDA) go with it, and the
# installed binary loads them from the prefix, not from the build tree.
for so in "$build"/lib/longca/*.so; do
    [ -e "$so" ] || continue
    [ -f "$tmp/prefix/lib/longca/$(basename "$so")" ] || fail "plugin $(basename "$so") not installed"
    "$bin" list kernels | grep -q "plugin $tmp/prefix/lib/longca/$(basename "$so")" ||
        fail "the installed binary does not load $(basename "$so") from the prefix: $("$bin" list kernels | grep plugin)"
done
"$bin" --version | grep -Eq '^longca [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]+|unknown\)' || fail "--version: $("$bin" --version)"
# The commit comes from the header each build rewrites (cmake/commit.cmake, not a value fixed at
# configuring), and that script names the sources' HEAD.
built=$(sed -n 's/^#define LONGCA_COMMIT "\(.*\)"$/\1/p' "$build/generated/longca_commit.h")
"$bin" --version | grep -q "(commit $built)" || fail "--version: $("$bin" --version), the build's header: $built"
src=$(dirname "$(realpath "$0")")/..
if head=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null); then
    cmake -DSOURCE="$src" -DOUTPUT="$tmp/commit.h" -P "$src/cmake/commit.cmake"
    grep -Eq "^#define LONGCA_COMMIT \"$head(-dirty)?\"$" "$tmp/commit.h" || fail "commit.cmake: $(cat "$tmp/commit.h"), HEAD $head"
fi
if command -v groff >/dev/null 2>&1; then
    groff -man -Tascii "$tmp/prefix/share/man/man1/longca.1" 2>&1 | grep -q "Compares two results files" || fail "the man page does not render"
fi
PATH="$tmp/prefix/bin:$PATH" bash -c '
    source "$1"
    complete_of() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _longca 2>/dev/null; echo "${COMPREPLY[*]}"; }
    [[ " $(complete_of longca "") " == *" diff "* ]] || { echo "FAIL: no sub-commands"; exit 1; }
    [[ "$(complete_of longca run --mask causal,sliding_window_c)" == "causal,sliding_window_causal" ]] || { echo "FAIL: mask list"; exit 1; }
    [[ " $(complete_of longca run --kernel "") " == *" cpu_ref "* ]] || { echo "FAIL: kernels"; exit 1; }
    [[ " $(complete_of longca run --cp "") " == *" ring "* ]] || { echo "FAIL: CP methods"; exit 1; }
    [[ "$(complete_of longca export x --format "")" == "json perfetto" ]] || { echo "FAIL: export formats"; exit 1; }
    echo "completion: sub-commands, masks, kernels, CP methods, formats"
' _ "$comp" || failed=1
[ "$failed" -eq 0 ] || { echo "install_cli_test: FAILED"; exit 1; }
echo "install_cli_test: all checks passed"
