//! Codec settings, fixed by the run so every encoder and decoder agrees.

use serde::{Deserialize, Serialize};

use crate::error::CodecError;

/// How each kept value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Values {
    /// Sign and magnitude in 2, 4 or 8 bits, magnitudes spread between the chunk's smallest and
    /// largest kept magnitude (two f32 scales per chunk).
    Q2,
    Q4,
    Q8,
    F16,
    Bf16,
    F32,
    /// Every element as f32, no selection: the uncompressed reference.
    Dense,
}

impl Values {
    /// Bits per kept value.
    pub(crate) fn bits(self) -> u32 {
        match self {
            Self::Q2 => 2,
            Self::Q4 => 4,
            Self::Q8 => 8,
            Self::F16 | Self::Bf16 => 16,
            Self::F32 | Self::Dense => 32,
        }
    }

    pub(crate) fn quantized(self) -> bool {
        matches!(self, Self::Q2 | Self::Q4 | Self::Q8)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Matrices are cut into `tile x tile` tiles.
    pub tile: usize,
    /// Vectors are cut into runs of `chunk` elements.
    pub chunk: usize,
    /// Values kept per chunk (all of a chunk shorter than this).
    pub top_k: usize,
    pub values: Values,
    /// Select and send the tiles' orthonormal DCT-II coefficients instead of their values
    /// (matrices only; vectors are sent as they are).
    #[serde(default)]
    pub dct: bool,
    /// Send every matrix as rank-`rank` factors with 8-bit codes instead of its largest values
    /// (vectors still by `top_k` and `values`); 0 is off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rank: usize,
    /// With `rank`, also send whole the rows of each factored matrix where what the factors
    /// leave is largest: this many per thousand rows (rounded down), 8-bit codes per row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_per_mille: usize,
    /// With `rank`, named matrices factored at their own rank and rows instead: a token
    /// embedding's delta is a few shared directions plus the rows of the tokens trained on,
    /// where a block's small matrices have no such rows and gain from rank instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<Factoring>,
}

/// One matrix's own `rank` and `rows_per_mille` (see [`Settings`]), and the bits of each code
/// of the rows it sends whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factoring {
    /// The tensor's name in the model's specs.
    pub tensor: String,
    pub rank: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_per_mille: usize,
    /// Bits of each code of a row sent whole, 2..=8: signed codes in `±(2^(bits-1) - 1)` of
    /// the row's largest magnitude. A token embedding's trained rows are many and each needs
    /// only its direction roughly: at the same bytes, more rows at 2 or 3 bits beat fewer at
    /// 8 (measured in the quality benchmark). Left out at 8, so runs made before it keep their
    /// ids.
    #[serde(default = "eight", skip_serializing_if = "is_eight")]
    pub row_bits: u32,
}

/// The bits of a row's codes where a run does not name them.
pub(crate) const ROW_BITS: u32 = 8;

fn eight() -> u32 {
    ROW_BITS
}

fn is_eight(n: &u32) -> bool {
    *n == ROW_BITS
}

/// The largest rank, global or a matrix's own.
const MAX_RANK: usize = 256;
/// `rows_per_mille` counts rows per thousand: at most every row.
const ALL_ROWS: usize = 1000;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for Settings {
    /// 32 of every 4096 (0.78%), 12-bit indices, 2-bit values: 64 bytes per 16 KiB chunk, 256x.
    fn default() -> Self {
        Self {
            tile: 64,
            chunk: 4096,
            top_k: 32,
            values: Values::Q2,
            dct: false,
            rank: 0,
            rows_per_mille: 0,
            factors: Vec::new(),
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), CodecError> {
        let bad = |why: String| Err(CodecError::Settings { why });
        if !(1..=1024).contains(&self.tile) || !(1..=1 << 20).contains(&self.chunk) {
            return bad(format!(
                "tile {} must be 1..=1024 and chunk {} 1..=2^20",
                self.tile, self.chunk
            ));
        }
        if self.values != Values::Dense && !(1..=self.tile * self.tile).contains(&self.top_k) {
            return bad(format!("top_k {} must be 1..=tile*tile", self.top_k));
        }
        if self.dct && self.values == Values::Dense {
            return bad("dct needs a sparse setting; dense sends every value as it is".to_string());
        }
        if self.rank > 0 && (self.dct || self.values == Values::Dense) {
            return bad(format!(
                "rank {} factors every matrix; it cannot go with dct or dense values",
                self.rank
            ));
        }
        if self.rows_per_mille > 0 && self.rank == 0 || self.rows_per_mille > ALL_ROWS {
            return bad(format!(
                "rows_per_mille {} must be at most {ALL_ROWS} and needs a rank",
                self.rows_per_mille
            ));
        }
        if self.rank > MAX_RANK {
            return bad(format!("rank {} must be at most {MAX_RANK}", self.rank));
        }
        self.validate_factors()
    }

    fn validate_factors(&self) -> Result<(), CodecError> {
        let bad = |why: String| Err(CodecError::Settings { why });
        if !self.factors.is_empty() && self.rank == 0 {
            return bad(
                "factors name matrices of their own rank, which needs a rank for the rest"
                    .to_string(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.factors {
            if !(1..=MAX_RANK).contains(&f.rank) || f.rows_per_mille > ALL_ROWS {
                return bad(format!(
                    "`{}`: rank {} must be 1..={MAX_RANK} and rows_per_mille {} at most {ALL_ROWS}",
                    f.tensor, f.rank, f.rows_per_mille
                ));
            }
            if !(2..=ROW_BITS).contains(&f.row_bits) {
                return bad(format!(
                    "`{}`: row_bits {} must be 2..={ROW_BITS}",
                    f.tensor, f.row_bits
                ));
            }
            if !seen.insert(&f.tensor) {
                return bad(format!("`{}` is named twice in factors", f.tensor));
            }
        }
        Ok(())
    }
}
