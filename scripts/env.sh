# Sourced by the project's scripts: where builds, caches and tools live.
# Builds link Debian's librocksdb instead of compiling RocksDB (15 s vs 9 min).
export COMRADE_CACHE="${COMRADE_CACHE:-$HOME/.cache/comrade}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$COMRADE_CACHE/target}"
export ROCKSDB_LIB_DIR="${ROCKSDB_LIB_DIR:-/usr/lib/x86_64-linux-gnu}"
export SNAPPY_LIB_DIR="${SNAPPY_LIB_DIR:-/usr/lib/x86_64-linux-gnu}"
export LZ4_LIB_DIR="${LZ4_LIB_DIR:-/usr/lib/x86_64-linux-gnu}"
export ZSTD_LIB_DIR="${ZSTD_LIB_DIR:-/usr/lib/x86_64-linux-gnu}"
export PATH="$COMRADE_CACHE/bin:$PATH"
