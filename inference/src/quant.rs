//! Block-quantized linear weights and the CPU kernels that multiply by them.
//!
//! Weights keep GGUF's block formats — `Q8_0` (one f16 scale and 32 signed bytes per
//! block) and `Q4_1` (f16 scale and minimum, 32 four-bit values) — so a GGUF file's
//! blocks are used as they are, without a round trip through f32. Activations are
//! quantized to 8 bits per block of 32 the way llama.cpp does it on x86 (`Q8_0` for
//! `Q8_0` weights, `Q8_1` with its block sum for `Q4_1` weights), and each block's dot
//! product is an integer dot product scaled once. This is what makes batch-1 decode
//! memory-bound instead of bound by f32 loads: SmolLM2-135M reads ~96 MB per token
//! instead of ~430 MB.
//!
//! On x86-64 with AVX2 + FMA the inner loops use 256-bit integer multiply-adds
//! (`pulp` proves the CPU features at run time, so no `unsafe` is needed here); other
//! CPUs take a portable scalar path that computes the same integer sums.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use half::f16;
use rayon::prelude::*;

use crate::error::{InferenceError, Result};
use crate::gguf::GgmlType;

/// Values per quantization block.
pub const QK: usize = 32;

/// Products reading fewer weight bytes than this (times the rows of input) run on the
/// calling thread.
const SEQUENTIAL_BYTES: usize = 64 << 10;

/// Block format of a [`QMatrix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QKind {
    /// `d * q`, `q` in `-127..=127` (GGUF `Q8_0`).
    Q8_0,
    /// `d * q + m`, `q` in `0..=15` (GGUF `Q4_1`).
    Q4_1,
}

impl QKind {
    /// The GGUF type with this block layout.
    pub fn from_ggml(t: GgmlType) -> Option<Self> {
        match t {
            GgmlType::Q8_0 => Some(Self::Q8_0),
            GgmlType::Q4_1 => Some(Self::Q4_1),
            _ => None,
        }
    }

    /// Bytes per block, as in GGUF.
    fn block_bytes(self) -> usize {
        match self {
            Self::Q8_0 => Q8_0_BYTES,
            Self::Q4_1 => Q4_1_BYTES,
        }
    }
}

/// GGUF `Q8_0` block: f16 `d`, 32 signed bytes.
const Q8_0_BYTES: usize = 34;
/// GGUF `Q4_1` block: f16 `d`, f16 `m`, 16 bytes of nibbles (the low nibble of byte
/// `j` is value `j`, the high nibble value `j + 16`).
const Q4_1_BYTES: usize = 20;

/// f16 → f32 for every bit pattern (256 KiB, built once): the kernels read block
/// scales through it, as llama.cpp does on CPUs it is not built for F16C.
fn f16_table() -> &'static [f32; 1 << 16] {
    static TABLE: OnceLock<Box<[f32; 1 << 16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0.0f32; 1 << 16]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = f16::from_bits(i as u16).to_f32();
        }
        t
    })
}

/// A row-major `[rows, cols]` matrix of quantized blocks (each row is `cols / 32`
/// blocks), stored exactly as GGUF stores them. In a linear layer a row is one output
/// feature.
#[derive(Clone)]
pub struct QMatrix {
    rows: usize,
    cols: usize,
    kind: QKind,
    blocks: Vec<u8>,
}

impl fmt::Debug for QMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "QMatrix({:?}, [{}, {}])",
            self.kind, self.rows, self.cols
        )
    }
}

fn check_cols(cols: usize) -> Result<()> {
    if cols == 0 || !cols.is_multiple_of(QK) {
        return Err(InferenceError::InvalidRequest(format!(
            "a quantized matrix needs a multiple of {QK} columns, got {cols}"
        )));
    }
    Ok(())
}

impl QMatrix {
    /// Rows (output features).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (input features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Block format.
    pub fn kind(&self) -> QKind {
        self.kind
    }

    /// Bytes the weights take in memory (what one matrix-vector product reads).
    pub fn bytes(&self) -> usize {
        self.blocks.len()
    }

    /// Takes GGUF blocks (`Q8_0`: 34 bytes per block, `Q4_1`: 20) of a `[rows, cols]`
    /// tensor (`rows` = GGUF's second dimension).
    pub fn from_gguf(kind: QKind, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self> {
        check_cols(cols)?;
        let need = rows * cols / QK * kind.block_bytes();
        if bytes.len() != need {
            return Err(InferenceError::InvalidRequest(format!(
                "{kind:?} tensor [{rows}, {cols}] needs {need} bytes, found {}",
                bytes.len()
            )));
        }
        Ok(Self {
            rows,
            cols,
            kind,
            blocks: bytes.to_vec(),
        })
    }

    /// Quantizes a row-major f32 matrix to `Q8_0` (llama.cpp's reference rounding:
    /// `d = max|x| / 127` stored as f16, `q = round(x / d)`).
    pub fn quantize_q8_0(rows: usize, cols: usize, data: &[f32]) -> Result<Self> {
        check_cols(cols)?;
        if data.len() != rows * cols {
            return Err(InferenceError::InvalidRequest(format!(
                "matrix [{rows}, {cols}] needs {} values, found {}",
                rows * cols,
                data.len()
            )));
        }
        let mut blocks = Vec::with_capacity(rows * cols / QK * Q8_0_BYTES);
        for x in data.chunks_exact(QK) {
            let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let id = if d == 0.0 { 0.0 } else { 1.0 / d };
            blocks.extend(f16::from_f32(d).to_le_bytes());
            blocks.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
        }
        Ok(Self {
            rows,
            cols,
            kind: QKind::Q8_0,
            blocks,
        })
    }

    /// The matrix in f32 (for tests and tools).
    pub fn dequantize(&self) -> Vec<f32> {
        let t = f16_table();
        let mut out = Vec::with_capacity(self.rows * self.cols);
        match self.kind {
            QKind::Q8_0 => {
                for b in self.blocks.as_chunks::<Q8_0_BYTES>().0 {
                    let [d0, d1, qs @ ..] = *b;
                    let d = t[usize::from(u16::from_le_bytes([d0, d1]))];
                    out.extend(qs.iter().map(|&v| d * f32::from(v as i8)));
                }
            }
            QKind::Q4_1 => {
                for b in self.blocks.as_chunks::<Q4_1_BYTES>().0 {
                    let [d0, d1, m0, m1, qs @ ..] = *b;
                    let d = t[usize::from(u16::from_le_bytes([d0, d1]))];
                    let m = t[usize::from(u16::from_le_bytes([m0, m1]))];
                    out.extend(qs.iter().map(|&v| d * f32::from(v & 0x0F) + m));
                    out.extend(qs.iter().map(|&v| d * f32::from(v >> 4) + m));
                }
            }
        }
        out
    }

    /// The matrix with its rows reordered: row `i` of the result is row `perm[i]`.
    pub fn permute_rows(&self, perm: &[usize]) -> Result<Self> {
        if perm.len() != self.rows || perm.iter().any(|&r| r >= self.rows) {
            return Err(InferenceError::InvalidRequest(
                "row permutation does not match the matrix".into(),
            ));
        }
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for &r in perm {
            blocks.extend_from_slice(self.row(r));
        }
        Ok(Self { blocks, ..*self })
    }

    fn row(&self, r: usize) -> &[u8] {
        let rb = self.cols / QK * self.kind.block_bytes();
        &self.blocks[r * rb..(r + 1) * rb]
    }
}

/// Activations quantized to 8 bits per block of 32 (llama.cpp's `Q8_0`/`Q8_1` on x86:
/// `d = max|x| / 127` rounded to f16, `q = round_ties_even(x * 127 / max|x|)`, and the
/// block sum `s = d * Σq` rounded to f16 for `Q4_1` weights).
#[derive(Debug, Clone)]
pub struct QActs {
    d: Vec<f32>,
    s: Vec<f32>,
    q: Vec<i8>,
}

impl QActs {
    /// Quantizes `x`; its length must be a multiple of 32 (a shorter last block would
    /// otherwise be dropped without a trace).
    pub fn quantize(x: &[f32]) -> Result<Self> {
        if !x.len().is_multiple_of(QK) {
            return Err(InferenceError::InputShape {
                what: format!("activations quantized in blocks of {QK}"),
                expected: vec![x.len().div_ceil(QK) * QK],
                found: vec![x.len()],
            });
        }
        let nb = x.len() / QK;
        let mut d = Vec::with_capacity(nb);
        let mut s = Vec::with_capacity(nb);
        let mut q = Vec::with_capacity(x.len());
        for blk in x.chunks_exact(QK) {
            let amax = blk.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let dd = amax / 127.0;
            let id = if amax == 0.0 { 0.0 } else { 127.0 / amax };
            let mut qs = [0i8; QK];
            for (o, v) in qs.iter_mut().zip(blk) {
                *o = round_ties_even(v * id) as i8;
            }
            let sum: i32 = qs.iter().map(|&x| i32::from(x)).sum();
            q.extend_from_slice(&qs);
            d.push(f16::from_f32(dd).to_f32());
            s.push(f16::from_f32(dd * sum as f32).to_f32());
        }
        Ok(Self { d, s, q })
    }
}

/// Rounds half to even like `f32::round_ties_even` for `|v| < 2^22`, in plain adds
/// that vectorize (`round_ties_even` becomes a libm call per value here).
#[inline(always)]
fn round_ties_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    (v + MAGIC) - MAGIC
}

/// Dot product of one weight row with quantized activations, portable version.
fn dot_scalar(kind: QKind, row: &[u8], a: &QActs) -> f32 {
    let t = f16_table();
    let mut acc = 0.0f32;
    let (x, _) = a.q.as_chunks::<QK>();
    match kind {
        QKind::Q8_0 => {
            let (w, _) = row.as_chunks::<Q8_0_BYTES>();
            for ((b, x), d) in w.iter().zip(x).zip(&a.d) {
                let [d0, d1, qs @ ..] = *b;
                let sumi: i32 = qs
                    .iter()
                    .zip(x)
                    .map(|(&w, &x)| i32::from(w as i8) * i32::from(x))
                    .sum();
                acc += t[usize::from(u16::from_le_bytes([d0, d1]))] * d * sumi as f32;
            }
        }
        QKind::Q4_1 => {
            let (w, _) = row.as_chunks::<Q4_1_BYTES>();
            for (((b, x), d), sa) in w.iter().zip(x).zip(&a.d).zip(&a.s) {
                let [d0, d1, m0, m1, qs @ ..] = *b;
                let mut sumi = 0i32;
                for j in 0..QK / 2 {
                    sumi += i32::from(qs[j] & 0x0F) * i32::from(x[j])
                        + i32::from(qs[j] >> 4) * i32::from(x[j + QK / 2]);
                }
                let wd = t[usize::from(u16::from_le_bytes([d0, d1]))];
                let wm = t[usize::from(u16::from_le_bytes([m0, m1]))];
                acc += wd * d * sumi as f32 + wm * sa;
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use pulp::x86::V3;
    use std::arch::x86_64::{__m128i, __m256, __m256i};

    use super::{Q4_1_BYTES, Q8_0_BYTES, QActs, QK};

    #[inline(always)]
    fn hsum(v: __m256) -> f32 {
        let a: [f32; 8] = pulp::cast(v);
        (a[0] + a[4]) + (a[1] + a[5]) + ((a[2] + a[6]) + (a[3] + a[7]))
    }

    /// A tile job for `V3::vectorize`: its `call` is `inline(always)`, so the whole
    /// kernel is compiled inside the AVX2 context (a closure there may be outlined
    /// and then every intrinsic becomes a function call, ~20x slower).
    pub(super) struct Tile<'a> {
        pub(super) simd: V3,
        pub(super) m: &'a super::QMatrix,
        pub(super) rows: std::ops::Range<usize>,
        pub acts: &'a [QActs],
        pub out: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Tile<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            tile(self.simd, self.m, self.rows, self.acts, self.out)
        }
    }

    /// [`super::tile_with`] with the AVX2 dot products (inlined into the caller's
    /// `target_feature` context); four activation rows at a time share each
    /// unpacked weight block.
    #[inline(always)]
    fn tile(
        simd: V3,
        m: &super::QMatrix,
        rows: std::ops::Range<usize>,
        acts: &[QActs],
        out: &mut [f32],
    ) {
        let t = super::f16_table();
        match m.kind {
            super::QKind::Q4_1 => super::tile_with(
                m,
                rows,
                acts,
                out,
                |w, a| dot_q4_1(simd, t, w, [a])[0],
                |w, a| dot_q4_1(simd, t, w, a),
            ),
            super::QKind::Q8_0 => super::tile_with(
                m,
                rows,
                acts,
                out,
                |w, a| dot_q8_0(simd, t, w, [a])[0],
                |w, a| dot_q8_0(simd, t, w, a),
            ),
        }
    }

    /// Accumulators of one activation row: two independent sets, so consecutive
    /// blocks do not wait on each other's floating-point add latency.
    #[derive(Clone, Copy)]
    struct Acc {
        v: [__m256; 2],
        s: [f32; 2],
    }

    #[inline(always)]
    fn finish<const N: usize>(acc: [Acc; N]) -> [f32; N] {
        std::array::from_fn(|k| hsum(acc[k].v[0]) + hsum(acc[k].v[1]) + (acc[k].s[0] + acc[k].s[1]))
    }

    /// `acc + scale * (pair sums of `pairs`, widened to 8 lanes of i32 and converted)`:
    /// the end of every block's dot product.
    #[inline(always)]
    fn fma_block(simd: V3, pairs: __m256i, scale: f32, acc: __m256) -> __m256 {
        let ones: __m256i = simd.avx._mm256_set1_epi16(1);
        let sums = simd
            .avx
            ._mm256_cvtepi32_ps(simd.avx2._mm256_madd_epi16(pairs, ones));
        simd.fma
            ._mm256_fmadd_ps(simd.avx._mm256_set1_ps(scale), sums, acc)
    }

    /// One `Q4_1` block (`bi`) against `N` activation rows, into accumulator `set`.
    #[inline(always)]
    fn step_q4_1<const N: usize>(
        simd: V3,
        t: &[f32; 1 << 16],
        b: &[u8; Q4_1_BYTES],
        bi: usize,
        acts: [&QActs; N],
        acc: &mut [Acc; N],
        set: usize,
    ) {
        let [d0, d1, m0, m1, qs @ ..] = *b;
        let wd = t[usize::from(u16::from_le_bytes([d0, d1]))];
        let wm = t[usize::from(u16::from_le_bytes([m0, m1]))];
        let m4: __m128i = simd.sse2._mm_set1_epi8(0x0F);
        let q: __m128i = pulp::cast(qs);
        let lo = simd.sse2._mm_and_si128(q, m4);
        let hi = simd
            .sse2
            ._mm_and_si128(simd.sse2._mm_srli_epi16::<4>(q), m4);
        let wv = simd.avx._mm256_set_m128i(hi, lo);
        for k in 0..N {
            let a = acts[k];
            let xv: __m256i = pulp::cast(a.q.as_chunks::<QK>().0[bi]);
            let c = &mut acc[k];
            c.v[set] = fma_block(
                simd,
                simd.avx2._mm256_maddubs_epi16(wv, xv),
                wd * a.d[bi],
                c.v[set],
            );
            c.s[set] += wm * a.s[bi];
        }
    }

    /// One `Q8_0` block (`bi`) against `N` activation rows, into accumulator `set`.
    #[inline(always)]
    fn step_q8_0<const N: usize>(
        simd: V3,
        t: &[f32; 1 << 16],
        b: &[u8; Q8_0_BYTES],
        bi: usize,
        acts: [&QActs; N],
        acc: &mut [Acc; N],
        set: usize,
    ) {
        let [d0, d1, qs @ ..] = *b;
        let wd = t[usize::from(u16::from_le_bytes([d0, d1]))];
        let wv: __m256i = pulp::cast(qs);
        // |w| * (x * sign(w)): maddubs wants one unsigned operand.
        let aw = simd.avx2._mm256_sign_epi8(wv, wv);
        for k in 0..N {
            let a = acts[k];
            let xv: __m256i = pulp::cast(a.q.as_chunks::<QK>().0[bi]);
            let sx = simd.avx2._mm256_sign_epi8(xv, wv);
            let c = &mut acc[k];
            c.v[set] = fma_block(
                simd,
                simd.avx2._mm256_maddubs_epi16(aw, sx),
                wd * a.d[bi],
                c.v[set],
            );
        }
    }

    /// Defines `$name`: the dot products of a row with `N` activation rows, `$step`
    /// on every block, consecutive blocks alternating between two accumulator sets
    /// (see [`Acc`]). A macro, not a generic function taking `$step`: passed as a
    /// value, the step was not inlined into the AVX2 context (10x slower).
    macro_rules! dot_fn {
        ($(#[$doc:meta])* $name:ident, $step:ident, $bytes:expr) => {
            $(#[$doc])*
            #[inline(always)]
            fn $name<const N: usize>(
                simd: V3,
                t: &[f32; 1 << 16],
                row: &[u8],
                acts: [&QActs; N],
            ) -> [f32; N] {
                let zero = simd.avx._mm256_setzero_ps();
                let mut acc = [Acc {
                    v: [zero; 2],
                    s: [0.0; 2],
                }; N];
                let (w, _) = row.as_chunks::<{ $bytes }>();
                let (pairs, rest) = w.as_chunks::<2>();
                for (pi, p) in pairs.iter().enumerate() {
                    $step(simd, t, &p[0], 2 * pi, acts, &mut acc, 0);
                    $step(simd, t, &p[1], 2 * pi + 1, acts, &mut acc, 1);
                }
                for (ri, b) in rest.iter().enumerate() {
                    $step(simd, t, b, 2 * pairs.len() + ri, acts, &mut acc, 0);
                }
                finish(acc)
            }
        };
    }

    dot_fn!(
        /// `Q4_1` row × `N` rows of `Q8_1` activations.
        dot_q4_1,
        step_q4_1,
        Q4_1_BYTES
    );
    dot_fn!(
        /// `Q8_0` row × `N` rows of `Q8_0` activations.
        dot_q8_0,
        step_q8_0,
        Q8_0_BYTES
    );
}

/// Which kernels this CPU runs.
#[derive(Debug, Clone, Copy)]
enum Kernels {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

impl Kernels {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            return Self::Avx2(v3);
        }
        Self::Scalar
    }

    /// `out[i * n + a] = row(rows.start + i) · act[a]` for every row in `rows`.
    fn tile(self, m: &QMatrix, rows: std::ops::Range<usize>, acts: &[QActs], out: &mut [f32]) {
        match self {
            Self::Scalar => tile_with(
                m,
                rows,
                acts,
                out,
                |w, a| dot_scalar(m.kind, w, a),
                |w, a: [&QActs; 4]| a.map(|a| dot_scalar(m.kind, w, a)),
            ),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(simd) => simd.vectorize(avx2::Tile {
                simd,
                m,
                rows,
                acts,
                out,
            }),
        }
    }
}

/// `out[i * n + a] = row(rows.start + i) · acts[a]`: `dot4` takes four activation
/// rows at a time, `dot` the rest.
#[inline(always)]
fn tile_with(
    m: &QMatrix,
    rows: std::ops::Range<usize>,
    acts: &[QActs],
    out: &mut [f32],
    dot: impl Fn(&[u8], &QActs) -> f32,
    dot4: impl Fn(&[u8], [&QActs; 4]) -> [f32; 4],
) {
    let n = acts.len();
    for (i, r) in rows.enumerate() {
        let w = m.row(r);
        let o = &mut out[i * n..(i + 1) * n];
        let (groups, rest) = acts.as_chunks::<4>();
        let (og, orest) = o.as_chunks_mut::<4>();
        for (g, og) in groups.iter().zip(og) {
            *og = dot4(w, [&g[0], &g[1], &g[2], &g[3]]);
        }
        for (a, o) in rest.iter().zip(orest) {
            *o = dot(w, a);
        }
    }
}

/// Bumped at every parallel product; see [`keep_pool_warm`].
static POOL_EPOCH: AtomicU64 = AtomicU64::new(0);

/// How long the pool's other threads spin for the next product before sleeping.
const WARM_SPIN: Duration = Duration::from_micros(400);

/// Between two products of a decode step the model runs small tensor ops on one
/// thread, long enough for idle rayon threads to fall asleep; waking them for the
/// next product costs tens of microseconds each time, ~90 times per token. So after
/// a product the other threads spin (at most [`WARM_SPIN`], or until the next
/// product starts), the way llama.cpp's thread pool waits.
fn keep_pool_warm() {
    let epoch = POOL_EPOCH.load(Ordering::Relaxed);
    for _ in 1..rayon::current_num_threads() {
        rayon::spawn(move || {
            let start = Instant::now();
            while POOL_EPOCH.load(Ordering::Relaxed) == epoch && start.elapsed() < WARM_SPIN {
                std::hint::spin_loop();
            }
        });
    }
}

/// A linear layer's weight as one or more quantized matrices stacked by rows (fused
/// projections such as q/k/v keep each part's own block format).
#[derive(Debug, Clone)]
pub struct QLinear {
    parts: Vec<QMatrix>,
}

impl QLinear {
    /// Stacks `parts` (at least one, all with the same number of columns).
    pub fn new(parts: Vec<QMatrix>) -> Result<Self> {
        let Some(cols) = parts.first().map(QMatrix::cols) else {
            return Err(InferenceError::InvalidRequest(
                "a quantized linear layer needs at least one matrix".into(),
            ));
        };
        if let Some(p) = parts.iter().find(|p| p.cols != cols) {
            return Err(InferenceError::InputShape {
                what: "stacked quantized matrix".into(),
                expected: vec![p.rows, cols],
                found: vec![p.rows, p.cols],
            });
        }
        Ok(Self { parts })
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.parts.first().map_or(0, QMatrix::cols)
    }

    /// Output features (rows of all parts).
    pub fn out_features(&self) -> usize {
        self.parts.iter().map(QMatrix::rows).sum()
    }

    /// Bytes of weights read per product.
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(QMatrix::bytes).sum()
    }

    /// The weight in f32, `[out, in]` row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        self.parts.iter().flat_map(QMatrix::dequantize).collect()
    }

    /// `y = x · Wᵀ` for `n` input rows: `x` is `[n, in]`, the result `[n, out]`.
    /// Work is split by output rows over the rayon pool. `x` of another length is an
    /// [`InferenceError::InputShape`].
    pub fn forward(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let k = self.in_features();
        let out_f = self.out_features();
        if x.len() != n * k {
            return Err(InferenceError::InputShape {
                what: "quantized linear input".into(),
                expected: vec![n, k],
                found: vec![x.len()],
            });
        }
        if n == 0 {
            return Ok(vec![]);
        }
        let acts = x
            .chunks_exact(k)
            .map(QActs::quantize)
            .collect::<Result<Vec<_>>>()?;
        let kernels = Kernels::detect();
        // Tiles of output rows, enough for every thread to get several, written in
        // place into `yt` (`[out, n]`: row-major by output feature).
        let threads = rayon::current_num_threads().max(1);
        let chunk = (out_f / (threads * 4)).clamp(8, 256);
        let run = |(ci, out): (usize, &mut [f32])| {
            let (r0, r1) = (ci * chunk, ci * chunk + out.len() / n);
            let mut start = 0;
            for p in &self.parts {
                let (s, e) = (r0.max(start), r1.min(start + p.rows));
                if s < e {
                    kernels.tile(
                        p,
                        s - start..e - start,
                        &acts,
                        &mut out[(s - r0) * n..(e - r0) * n],
                    );
                }
                start += p.rows;
            }
        };
        let mut yt = vec![0.0f32; out_f * n];
        if self.bytes() * n < SEQUENTIAL_BYTES {
            // Handing a tiny product to the pool costs more than it saves.
            yt.chunks_mut(chunk * n).enumerate().for_each(run);
        } else {
            // Spinners of the previous product stop: the pool's threads take tiles.
            POOL_EPOCH.fetch_add(1, Ordering::Relaxed);
            yt.par_chunks_mut(chunk * n).enumerate().for_each(run);
            keep_pool_warm();
        }
        if n == 1 {
            return Ok(yt);
        }
        let mut y = vec![0.0f32; n * out_f];
        for (r, row) in yt.chunks_exact(n).enumerate() {
            for (a, v) in row.iter().enumerate() {
                y[a * out_f + r] = *v;
            }
        }
        Ok(y)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic pseudo-random values in `[-scale/2, scale/2)` (test inputs).
    pub(crate) fn lcg(seed: u64, n: usize, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
            })
            .collect()
    }

    fn q4_1_bytes(rows: usize, cols: usize, seed: u64) -> Vec<u8> {
        let v = lcg(seed, rows * cols, 2.0);
        let mut out = Vec::new();
        for blk in v.chunks_exact(QK) {
            let (mn, mx) = blk
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let d = (mx - mn) / 15.0;
            out.extend(f16::from_f32(d).to_le_bytes());
            out.extend(f16::from_f32(mn).to_le_bytes());
            let q: Vec<u8> = blk
                .iter()
                .map(|x| (((x - mn) / d).round() as u8).min(15))
                .collect();
            for j in 0..16 {
                out.push(q[j] | (q[j + 16] << 4));
            }
        }
        out
    }

    /// The quantized product equals the f64 product of the dequantized weights with
    /// the dequantized activations (the integer arithmetic is exact), and is close to
    /// the f32 product with the original activations.
    fn check(m: &QMatrix, n: usize) {
        let (rows, cols) = (m.rows(), m.cols());
        let x = lcg(99, n * cols, 3.0);
        let lin = QLinear::new(vec![m.clone()]).unwrap();
        let y = lin.forward(&x, n).unwrap();
        let w = m.dequantize();
        for a in 0..n {
            let xa = &x[a * cols..(a + 1) * cols];
            let qa = QActs::quantize(xa).unwrap();
            let xq: Vec<f64> =
                qa.q.iter()
                    .enumerate()
                    .map(|(i, &q)| f64::from(qa.d[i / QK]) * f64::from(q))
                    .collect();
            for r in 0..rows {
                let wr = &w[r * cols..(r + 1) * cols];
                let got = f64::from(y[a * rows + r]);
                let exact_q: f64 = match m.kind() {
                    QKind::Q8_0 => wr.iter().zip(&xq).map(|(w, x)| f64::from(*w) * x).sum(),
                    // Q4_1 uses the f16-rounded block sum for the minimum's term.
                    QKind::Q4_1 => (0..cols / QK)
                        .map(|b| {
                            let blk = &m.row(r)[b * Q4_1_BYTES..];
                            let mn = f16::from_le_bytes([blk[2], blk[3]]).to_f32();
                            let mut acc = 0.0;
                            for j in 0..QK {
                                acc += f64::from(wr[b * QK + j] - mn) * xq[b * QK + j];
                            }
                            acc + f64::from(mn) * f64::from(qa.s[b])
                        })
                        .sum(),
                };
                assert!(
                    (got - exact_q).abs() <= 1e-4 * (1.0 + exact_q.abs()),
                    "row {r} act {a}: {got} vs {exact_q}"
                );
                let f: f64 = wr
                    .iter()
                    .zip(xa)
                    .map(|(w, x)| f64::from(*w) * f64::from(*x))
                    .sum();
                let norm: f64 = wr.iter().map(|w| f64::from(w.abs())).sum::<f64>() * 1.5;
                assert!((got - f).abs() <= 0.02 * norm + 1e-3, "{got} vs f32 {f}");
            }
        }
    }

    #[test]
    fn q4_1_matches_reference() {
        let (rows, cols) = (37, 96);
        let m = QMatrix::from_gguf(QKind::Q4_1, rows, cols, &q4_1_bytes(rows, cols, 5)).unwrap();
        check(&m, 1);
        check(&m, 3);
        check(&m, 5);
    }

    #[test]
    fn q8_0_matches_reference() {
        let (rows, cols) = (41, 128);
        let m = QMatrix::quantize_q8_0(rows, cols, &lcg(7, rows * cols, 1.0)).unwrap();
        check(&m, 1);
        check(&m, 4);
    }

    #[test]
    fn simd_and_scalar_agree() {
        let (rows, cols) = (16, 256);
        let m4 = QMatrix::from_gguf(QKind::Q4_1, rows, cols, &q4_1_bytes(rows, cols, 3)).unwrap();
        let m8 = QMatrix::quantize_q8_0(rows, cols, &lcg(4, rows * cols, 1.0)).unwrap();
        let acts: Vec<QActs> = (0..6)
            .map(|i| QActs::quantize(&lcg(8 + i, cols, 4.0)).unwrap())
            .collect();
        for m in [&m4, &m8] {
            let mut a = vec![0.0; rows * acts.len()];
            let mut b = vec![0.0; rows * acts.len()];
            Kernels::Scalar.tile(m, 0..rows, &acts, &mut a);
            Kernels::detect().tile(m, 0..rows, &acts, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
            }
        }
    }

    #[test]
    fn stacked_parts_and_permutation() {
        let a = QMatrix::quantize_q8_0(3, 64, &lcg(1, 192, 1.0)).unwrap();
        let b = QMatrix::from_gguf(QKind::Q4_1, 2, 64, &q4_1_bytes(2, 64, 2)).unwrap();
        let lin = QLinear::new(vec![a.clone(), b.clone()]).unwrap();
        assert_eq!(lin.out_features(), 5);
        let x = lcg(3, 64, 1.0);
        let y = lin.forward(&x, 1).unwrap();
        let ya = QLinear::new(vec![a.clone()])
            .unwrap()
            .forward(&x, 1)
            .unwrap();
        let yb = QLinear::new(vec![b]).unwrap().forward(&x, 1).unwrap();
        assert_eq!(&y[..3], &ya[..]);
        assert_eq!(&y[3..], &yb[..]);
        // Several input rows: `[n, out]`, each row as computed alone.
        let x3: Vec<f32> = [x.clone(), lcg(4, 64, 1.0), lcg(5, 64, 1.0)].concat();
        let y3 = lin.forward(&x3, 3).unwrap();
        for a in 0..3 {
            assert_eq!(
                &y3[a * 5..(a + 1) * 5],
                &lin.forward(&x3[a * 64..(a + 1) * 64], 1).unwrap()[..]
            );
        }
        let p = a.permute_rows(&[2, 0, 1]).unwrap();
        let yp = QLinear::new(vec![p]).unwrap().forward(&x, 1).unwrap();
        assert_eq!(yp, vec![ya[2], ya[0], ya[1]]);
        assert!(a.permute_rows(&[0, 1]).is_err());
        assert!(QLinear::new(vec![a, QMatrix::quantize_q8_0(1, 32, &[0.0; 32]).unwrap()]).is_err());
    }

    #[test]
    fn magic_rounding_is_round_ties_even() {
        for i in -300_000..300_000 {
            let v = i as f32 * 0.000_5; // covers exact halves (x.5) in -150..150
            assert_eq!(round_ties_even(v), v.round_ties_even(), "{v}");
        }
        for v in [
            0.5f32, 1.5, 2.5, -0.5, -1.5, 126.5, -127.0, 127.0, 0.0, -0.0,
        ] {
            assert_eq!(round_ties_even(v), v.round_ties_even(), "{v}");
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(QMatrix::quantize_q8_0(2, 30, &[0.0; 60]).is_err());
        assert!(QMatrix::quantize_q8_0(2, 32, &[0.0; 60]).is_err());
        assert!(QMatrix::from_gguf(QKind::Q4_1, 2, 32, &[0u8; 39]).is_err());
    }

    /// An input whose length is not `n * in_features` is an error naming both shapes
    /// (it used to come back as `n * out` zeros).
    #[test]
    fn forward_with_wrong_input_length_is_an_error() {
        let lin = QLinear::new(vec![
            QMatrix::quantize_q8_0(3, 64, &lcg(1, 192, 1.0)).unwrap(),
        ])
        .unwrap();
        for (len, n) in [(63, 1), (65, 1), (64, 2), (0, 1)] {
            let e = lin.forward(&lcg(2, len, 1.0), n).unwrap_err();
            match e {
                InferenceError::InputShape {
                    expected, found, ..
                } => {
                    assert_eq!(expected, vec![n, 64]);
                    assert_eq!(found, vec![len]);
                }
                other => panic!("wrong error: {other}"),
            }
        }
        assert_eq!(lin.forward(&[], 0).unwrap(), Vec::<f32>::new());
        assert_eq!(lin.forward(&lcg(2, 128, 1.0), 2).unwrap().len(), 6);
    }

    /// Activations that are not whole blocks are an error (the last partial block
    /// used to be dropped, so its values never reached the product).
    #[test]
    fn partial_activation_block_is_an_error() {
        let e = QActs::quantize(&[1.0; 40]).unwrap_err();
        assert!(
            matches!(&e, InferenceError::InputShape { expected, found, .. }
                if expected == &[64] && found == &[40]),
            "{e}"
        );
        assert_eq!(QActs::quantize(&[1.0; 64]).unwrap().q.len(), 64);
    }

    #[test]
    fn stacking_needs_parts_of_equal_width() {
        let a = QMatrix::quantize_q8_0(2, 64, &lcg(1, 128, 1.0)).unwrap();
        let b = QMatrix::quantize_q8_0(1, 32, &lcg(2, 32, 1.0)).unwrap();
        let e = QLinear::new(vec![a, b]).unwrap_err();
        assert!(
            matches!(&e, InferenceError::InputShape { expected, found, .. }
                if expected == &[1, 64] && found == &[1, 32]),
            "{e}"
        );
        assert!(QLinear::new(vec![]).is_err());
    }
}
