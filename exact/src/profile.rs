//! Challenge profiles: the shape of the GEMM chain (design §5 table).

/// The shape of one capacity challenge.
///
/// A row is `h₀ = x ∈ [-31,31]^d`, then `layers` times
/// `h = requantize(h · W_l, mu)` with `W_l ∈ [-31,31]^{d×d}`, then
/// `y = h · P` with `P ∈ [-31,31]^{d×w_out}`; `y` is `w_out` `i32`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Stable id (stored in state and in sprint records; never renumbered).
    pub id: u16,
    /// Name used in params files and the CLI.
    pub name: &'static str,
    /// Row width.
    pub d: usize,
    /// Number of `d × d` layers.
    pub layers: usize,
    /// Output width of the final projection.
    pub w_out: usize,
    /// Requantisation multiplier, `round(4096 / √d)`: keeps the per-layer
    /// value distribution stationary (std ≈ 18, some saturation, few zeros).
    pub mu: i32,
}

/// The largest `d` any profile may use: the exactness bound (module docs)
/// is proved for it.
pub const MAX_D: usize = 4096;

impl Profile {
    /// Tiny profile for unit tests.
    pub const UNIT: Profile = Profile {
        id: 1,
        name: "unit",
        d: 64,
        layers: 2,
        w_out: 8,
        mu: 512,
    };
    /// The localnet's CPU profile: a 32-row opening verifies in a few ms.
    pub const LOCALNET_CPU: Profile = Profile {
        id: 2,
        name: "localnet-cpu",
        d: 512,
        layers: 4,
        w_out: 16,
        mu: 181,
    };
    /// The mainnet GPU profile (H100/H200 class provers).
    pub const MAINNET_GPU: Profile = Profile {
        id: 3,
        name: "mainnet-gpu",
        d: 4096,
        layers: 8,
        w_out: 16,
        mu: 64,
    };

    /// Every profile, by id.
    pub const ALL: [Profile; 3] = [Self::UNIT, Self::LOCALNET_CPU, Self::MAINNET_GPU];

    /// The profile with this id.
    pub fn by_id(id: u16) -> Option<Profile> {
        Self::ALL.into_iter().find(|p| p.id == id)
    }

    /// The profile with this name.
    pub fn by_name(name: &str) -> Option<Profile> {
        Self::ALL.into_iter().find(|p| p.name == name)
    }

    /// Multiply-accumulates per row: `layers·d² + d·w_out`.
    #[allow(clippy::arithmetic_side_effects)] // profile constants (≤ 4096·4096·8)
    pub const fn row_macs(&self) -> u64 {
        let d = self.d as u64;
        d * d * self.layers as u64 + d * self.w_out as u64
    }

    /// Bytes of one output row `y` (little-endian `i32`s).
    #[allow(clippy::arithmetic_side_effects)] // profile constants (≤ 4096·4096·8)
    pub const fn y_bytes(&self) -> usize {
        4 * self.w_out
    }

    /// The largest possible `|accumulator|` of one dot product: `d · 31²`.
    #[allow(clippy::arithmetic_side_effects)] // profile constants (≤ 4096·4096·8)
    pub const fn max_abs_acc(&self) -> u64 {
        let v = super::VALUE_MAX as u64;
        self.d as u64 * v * v
    }
}

/// The proved bound, checked at compile time for every profile: the
/// accumulator stays below 2²² (exact in f32, whose integers are exact up to
/// 2²⁴, and in any i32 summation order), and `acc·mu + 2¹⁵` fits in `i32`.
#[allow(clippy::arithmetic_side_effects, clippy::cast_sign_loss)]
const _: () = {
    let mut i = 0;
    while i < Profile::ALL.len() {
        let p = Profile::ALL[i];
        assert!(p.d <= MAX_D && p.d > 0 && p.d.is_multiple_of(64));
        assert!(p.max_abs_acc() < (1 << 22));
        assert!(p.max_abs_acc() * (p.mu as u64) + (1 << 15) < (1 << 31));
        assert!(p.layers > 0 && p.w_out > 0 && p.mu > 0);
        i += 1;
    }
};
