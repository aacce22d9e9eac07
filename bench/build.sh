# Sourced by the bench scripts (needs ROOT, OUT, BUILD): builds longca for timing (Release, no TUI)
# into $BUILD, logs in $OUT, and sets LONGCA to it; does nothing when LONGCA already names a binary.
if [ -z "${LONGCA:-}" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLONGCA_TUI=OFF >"$OUT/cmake.log"
    targets=longca
    # kernel plugins longca finds beside itself (cudnn, where cudnn.h is present)
    grep -q 'liblongca_cudnn' "$BUILD/build.ninja" && targets="longca longca_cudnn"
    cmake --build "$BUILD" -j"$(nproc)" --target $targets >"$OUT/build.log" 2>&1 || {
        tail -30 "$OUT/build.log"
        exit 1
    }
    LONGCA=$BUILD/longca
fi
