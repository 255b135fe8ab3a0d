//! A single-threaded reference prover: what a compute node computes during
//! a sprint, built on the kernel. Simulated nodes in the protocol tests use
//! it; the compute-node worker runs the Burn program (or this kernel across
//! threads) and builds the same tree.

use crate::{Challenge, Hash, kernel::Kernel, merkle, prf};

/// One opened row: its index, output and audit path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// Row index `j`.
    pub index: u64,
    /// The row's output `y`.
    pub y: Vec<i32>,
    /// RFC 6962 audit path, leaf side first.
    pub path: Vec<Hash>,
}

/// A node's sprint work: rows `0..n` for its input key, and their tree.
#[derive(Debug, Clone)]
pub struct Prover {
    key: Hash,
    tree: merkle::Tree,
}

impl Prover {
    /// Computes rows `0..n_rows` of `node`'s inputs under `challenge`.
    pub fn run(challenge: &Challenge, node: &[u8], n_rows: u64) -> Self {
        let key = prf::input_key(challenge.seed(), node);
        let leaves = Self::leaves(challenge, &key, 0..n_rows, Kernel::detect());
        Self {
            key,
            tree: merkle::Tree::from_leaves(leaves),
        }
    }

    /// The leaves of rows `range` of input key `key`.
    pub fn leaves(
        challenge: &Challenge,
        key: &Hash,
        range: std::ops::Range<u64>,
        kernel: Kernel,
    ) -> Vec<Hash> {
        const BATCH: u64 = 64;
        let w = challenge.profile().w_out;
        let mut leaves = Vec::new();
        let mut start = range.start;
        while start < range.end {
            let end = start.saturating_add(BATCH).min(range.end);
            let xs: Vec<i8> = (start..end).flat_map(|j| challenge.input(key, j)).collect();
            let ys = challenge.rows_with(kernel, &xs);
            for (j, y) in (start..end).zip(ys.chunks_exact(w)) {
                leaves.push(Challenge::leaf(j, y));
            }
            start = end;
        }
        leaves
    }

    /// Builds a prover from leaves computed elsewhere (e.g. by the Burn
    /// program).
    pub fn from_leaves(challenge: &Challenge, node: &[u8], leaves: Vec<Hash>) -> Self {
        Self {
            key: prf::input_key(challenge.seed(), node),
            tree: merkle::Tree::from_leaves(leaves),
        }
    }

    /// The committed root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The committed row count.
    pub fn n_rows(&self) -> u64 {
        self.tree.len()
    }

    /// Opens row `index` (recomputing its output); `None` if out of range.
    pub fn open(&self, challenge: &Challenge, index: u64) -> Option<Opening> {
        let path = self.tree.path(index)?;
        let y = challenge.row(&challenge.input(&self.key, index));
        Some(Opening { index, y, path })
    }
}

/// Verifies an opening against a commitment: the path proves the leaf of
/// `(index, y)` and `y` is the row function of the node's input `index`.
/// This is what FinalizeBlock runs (the path check is cheap and done at
/// delivery; the recomputation is the budgeted part).
pub fn verify_opening(
    challenge: &Challenge,
    node: &[u8],
    root: &Hash,
    n_rows: u64,
    opening: &Opening,
) -> bool {
    let leaf = Challenge::leaf(opening.index, &opening.y);
    if !merkle::verify(root, n_rows, opening.index, &leaf, &opening.path) {
        return false;
    }
    let key = prf::input_key(challenge.seed(), node);
    challenge.row(&challenge.input(&key, opening.index)) == opening.y
}
