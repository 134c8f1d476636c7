//! Matrices sent as low-rank factors (`settings.rank > 0`): `M ≈ L Rᵀ`, `L` rows × r and `R`
//! cols × r, found by [`LowRank::factor`]. Each factor column is stored as signed 8-bit codes
//! with one f32 scale (its largest magnitude): the `values` entry holds `L`'s codes row after
//! row, then `R`'s; the `scales` entry holds `L`'s r scales, then `R`'s.
//!
//! A window's AdamW delta moves nearly every coordinate by about the same amount, so keeping
//! the largest values keeps little of it; most of it lies in a few directions shared by many
//! rows, which factors carry at `(rows + cols) · r` bytes instead of `rows · cols · 4`.

use rayon::prelude::*;

use crate::codec::MAX_MAGNITUDE;
use crate::error::{CodecError, malformed};
use crate::lowrank::LowRank;

/// Rounds of subspace iteration the encoder runs; the decoder never factors.
const ITERATIONS: usize = 3;

/// A decoded factored matrix: `rows × rank` and `cols × rank`, row-major.
pub(crate) struct Factors {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
}

/// The shape of one factored tensor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub rows: usize,
    pub cols: usize,
    pub rank: usize,
}

impl Shape {
    pub fn new(rows: usize, cols: usize, rank: usize) -> Self {
        Shape {
            rows,
            cols,
            rank: rank.min(rows).min(cols),
        }
    }

    pub fn values_len(&self) -> usize {
        (self.rows + self.cols) * self.rank
    }

    pub fn scales_len(&self) -> usize {
        2 * self.rank * 4
    }
}

/// Factors `data` and quantizes the factors: (values, scales) entries.
pub(crate) fn encode(data: &[f32], shape: Shape) -> (Vec<u8>, Vec<u8>) {
    let low = LowRank::factor(data, shape.rows, shape.cols, shape.rank, ITERATIONS);
    let mut values = Vec::with_capacity(shape.values_len());
    let mut scales = Vec::with_capacity(shape.scales_len());
    let left = quantize(&low.left, shape.rank);
    let right = quantize(&low.right, shape.rank);
    for (codes, column_scales) in [left, right] {
        values.extend(codes.iter().map(|&q| q as u8));
        for s in column_scales {
            scales.extend_from_slice(&s.to_le_bytes());
        }
    }
    (values, scales)
}

/// Per column of a row-major `n × rank` matrix: its largest magnitude (clamped to the
/// decoder's bound), and every value as a code in -127..=127 of it.
fn quantize(m: &[f32], rank: usize) -> (Vec<i8>, Vec<f32>) {
    let mut scales = vec![0.0f32; rank];
    for row in m.chunks_exact(rank) {
        for (s, v) in scales.iter_mut().zip(row) {
            *s = s.max(v.abs());
        }
    }
    scales.iter_mut().for_each(|s| *s = s.min(MAX_MAGNITUDE));
    let codes = m
        .chunks_exact(rank)
        .flat_map(|row| {
            row.iter().zip(&scales).map(|(v, s)| {
                if *s > 0.0 {
                    (v / s * 127.0).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                }
            })
        })
        .collect();
    (codes, scales)
}

/// Decodes the entries of one factored tensor, refusing the code -128 and any scale that is
/// not finite in `0..=MAX_MAGNITUDE`.
pub(crate) fn decode(
    name: &str,
    values: &[u8],
    scales: &[u8],
    shape: Shape,
) -> Result<Factors, CodecError> {
    let r = shape.rank;
    let scales: Vec<f32> = scales
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(s) = scales
        .iter()
        .find(|s| !(s.is_finite() && (0.0..=MAX_MAGNITUDE).contains(*s)))
    {
        return Err(malformed(format!(
            "`{name}`: factor scale {s} must be finite and in 0..={MAX_MAGNITUDE}"
        )));
    }
    if let Some(i) = values.iter().position(|&b| b as i8 == i8::MIN) {
        return Err(malformed(format!(
            "`{name}`: factor code {i} is -128; codes are -127..=127"
        )));
    }
    let expand = |codes: &[u8], scales: &[f32]| -> Vec<f32> {
        codes
            .chunks_exact(r)
            .flat_map(|row| {
                row.iter()
                    .zip(scales)
                    .map(|(&q, s)| (q as i8) as f32 / 127.0 * s)
            })
            .collect()
    };
    let split = shape.rows * r;
    Ok(Factors {
        left: expand(&values[..split], &scales[..r]),
        right: expand(&values[split..], &scales[r..]),
    })
}

/// `out += Σ_d w_d · L_d R_dᵀ`, the deltas in the order given and each element's inner sum in
/// a fixed order, so the result has the same bits on every run and thread count.
pub(crate) fn add(deltas: &[(&Factors, f32)], shape: Shape, out: &mut [f32]) {
    let (cols, r) = (shape.cols, shape.rank);
    out.par_chunks_mut(cols).enumerate().for_each(|(i, row)| {
        for (f, w) in deltas {
            let l = &f.left[i * r..(i + 1) * r];
            for (j, o) in row.iter_mut().enumerate() {
                let q = &f.right[j * r..(j + 1) * r];
                let mut sum = 0.0f32;
                for k in 0..r {
                    sum += l[k] * q[k];
                }
                *o += w * sum;
            }
        }
    });
}
