//! Matrices sent as low-rank factors (`settings.rank > 0`): `M ≈ L Rᵀ + S`, `L` rows × r and
//! `R` cols × r, found by [`LowRank::factor`], and `S` zero but for the `n` rows where what the
//! factors leave is largest (`settings.rows_per_mille`), sent whole. Each factor column and
//! each sent row is stored as signed codes with one f32 scale (its largest magnitude): the
//! factors' codes are 8-bit (`-127..=127`), the sent rows' `b`-bit (`row_bits`, 8 unless the
//! run's [`crate::Factoring`] says fewer; `-(2^(b-1) - 1)..=2^(b-1) - 1`, two's complement):
//!
//! | entry     | bytes                                                                       |
//! |-----------|-----------------------------------------------------------------------------|
//! | `indices` | the `n` sent rows' indices, u32 LE, strictly increasing                     |
//! | `values`  | `L`'s codes row after row, then `R`'s, a byte each; then the sent rows'     |
//! |           | `n · cols` codes in the order of `indices`, `b` bits each, packed least     |
//! |           | significant bit first (at `b` = 8, a byte each)                             |
//! | `scales`  | `L`'s r scales, then `R`'s, then one per sent row, f32 LE                   |
//!
//! A window's AdamW delta moves nearly every coordinate by about the same amount, so keeping
//! the largest values keeps little of it; most of it lies in a few directions shared by many
//! rows, which factors carry at `(rows + cols) · r` bytes instead of `rows · cols · 4`. What
//! is left is concentrated in a few rows: the token embedding's rows of the tokens the window
//! trained on move each in its own direction, which no shared factor carries. Those rows are
//! many (a window trains on a few thousand distinct tokens) and each needs its direction more
//! than its fine values, so a run may send more of them at fewer bits for the same bytes.

use rayon::prelude::*;

use crate::bits::{pack, packed_len, unpack};
use crate::codec::MAX_MAGNITUDE;
use crate::error::{CodecError, malformed};
use crate::lowrank::LowRank;

/// Rounds of subspace iteration the encoder runs; the decoder never factors.
const ITERATIONS: usize = 3;

/// A decoded factored matrix: `rows × rank` and `cols × rank`, row-major, plus the rows sent
/// whole (`cols` values each, in the order of `rows`).
pub(crate) struct Factors {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    pub rows: Vec<u32>,
    pub row_values: Vec<f32>,
}

/// The shape of one factored tensor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub rows: usize,
    pub cols: usize,
    pub rank: usize,
    /// Rows of what the factors leave that are sent whole.
    pub sent_rows: usize,
    /// Bits of each code of a row sent whole, 2..=8.
    pub row_bits: u32,
}

/// The largest code of a factor column, whose codes are 8-bit.
const FACTOR_CODE: i32 = 127;

impl Shape {
    pub fn new(
        rows: usize,
        cols: usize,
        rank: usize,
        rows_per_mille: usize,
        row_bits: u32,
    ) -> Self {
        Shape {
            rows,
            cols,
            rank: rank.min(rows).min(cols),
            sent_rows: rows * rows_per_mille / 1000,
            row_bits,
        }
    }

    /// The largest code of a sent row.
    fn row_code(&self) -> i32 {
        (1 << (self.row_bits - 1)) - 1
    }

    pub fn indices_len(&self) -> usize {
        self.sent_rows * 4
    }

    pub fn values_len(&self) -> usize {
        (self.rows + self.cols) * self.rank + packed_len(self.sent_rows * self.cols, self.row_bits)
    }

    pub fn scales_len(&self) -> usize {
        (2 * self.rank + self.sent_rows) * 4
    }
}

/// Factors `data`, quantizes the factors and picks the rows to send whole: (indices, values,
/// scales) entries.
pub(crate) fn encode(data: &[f32], shape: Shape) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let low = LowRank::factor(data, shape.rows, shape.cols, shape.rank, ITERATIONS);
    let mut values = Vec::with_capacity(shape.values_len());
    let mut scales = Vec::with_capacity(shape.scales_len());
    let left = quantize(&low.left, shape.rank, FACTOR_CODE);
    let right = quantize(&low.right, shape.rank, FACTOR_CODE);
    // The factors as the decoder will see them, only where rows are picked against them.
    let sent = (shape.sent_rows > 0).then(|| Factors {
        left: dequantize(&left.0, &left.1, FACTOR_CODE),
        right: dequantize(&right.0, &right.1, FACTOR_CODE),
        rows: Vec::new(),
        row_values: Vec::new(),
    });
    for (codes, column_scales) in [left, right] {
        values.extend(codes.iter().map(|&q| q as u8));
        for s in column_scales {
            scales.extend_from_slice(&s.to_le_bytes());
        }
    }
    let mut indices = Vec::with_capacity(shape.indices_len());
    if let Some(sent) = sent {
        let left_over = remainder(data, &sent, shape);
        let mask = (1u32 << shape.row_bits) - 1;
        let mut row_codes = Vec::with_capacity(shape.sent_rows * shape.cols);
        for i in largest_rows(&left_over, shape) {
            indices.extend_from_slice(&(i as u32).to_le_bytes());
            let row = &left_over[i * shape.cols..(i + 1) * shape.cols];
            let (codes, row_scale) = quantize(row, 1, shape.row_code());
            row_codes.extend(codes.iter().map(|&q| q as i32 as u32 & mask));
            scales.extend_from_slice(&row_scale[0].to_le_bytes());
        }
        pack(&row_codes, shape.row_bits, &mut values);
    }
    (indices, values, scales)
}

/// `data − L̂ R̂ᵀ` with the factors as the decoder will see them.
fn remainder(data: &[f32], sent: &Factors, shape: Shape) -> Vec<f32> {
    let mut out = data.to_vec();
    add(&[(sent, -1.0)], shape, &mut out);
    out
}

/// The `sent_rows` rows of the row-major matrix `m` with the largest norms, in increasing order
/// (ties to the lower index, so every encoder picks the same rows).
fn largest_rows(m: &[f32], shape: Shape) -> Vec<usize> {
    let norms: Vec<f64> = m
        .par_chunks(shape.cols)
        .map(|row| row.iter().map(|&v| (v as f64) * (v as f64)).sum())
        .collect();
    let mut order: Vec<usize> = (0..shape.rows).collect();
    order.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]).then(a.cmp(&b)));
    order.truncate(shape.sent_rows);
    order.sort_unstable();
    order
}

fn dequantize(codes: &[i8], scales: &[f32], max_code: i32) -> Vec<f32> {
    let top = max_code as f32;
    codes
        .chunks_exact(scales.len())
        .flat_map(|row| {
            row.iter()
                .zip(scales)
                .map(move |(&q, s)| q as f32 / top * s)
        })
        .collect()
}

/// Per column of a row-major `n × rank` matrix: its largest magnitude (clamped to the
/// decoder's bound), and every value as a code in `-max_code..=max_code` of it.
fn quantize(m: &[f32], rank: usize, max_code: i32) -> (Vec<i8>, Vec<f32>) {
    let top = max_code as f32;
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
                    (v / s * top).round().clamp(-top, top) as i8
                } else {
                    0
                }
            })
        })
        .collect();
    (codes, scales)
}

/// Decodes the entries of one factored tensor, refusing a factor code of -128 and a row code
/// of `-2^(b-1)` (outside the symmetric range), any scale that is not finite in
/// `0..=MAX_MAGNITUDE`, and sent rows out of range or not strictly increasing.
pub(crate) fn decode(
    name: &str,
    indices: &[u8],
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
    let rows = sent_rows(name, indices, shape)?;
    let (left_end, right_end) = (shape.rows * r, (shape.rows + shape.cols) * r);
    if let Some(i) = values[..right_end].iter().position(|&b| b as i8 == i8::MIN) {
        return Err(malformed(format!(
            "`{name}`: factor code {i} is -128; codes are -127..=127"
        )));
    }
    let codes: Vec<i8> = values[..right_end].iter().map(|&b| b as i8).collect();
    let row_codes = row_codes(name, &values[right_end..], shape)?;
    Ok(Factors {
        left: dequantize(&codes[..left_end], &scales[..r], FACTOR_CODE),
        right: dequantize(&codes[left_end..], &scales[r..2 * r], FACTOR_CODE),
        row_values: dequantize_rows(&row_codes, &scales[2 * r..], shape),
        rows,
    })
}

/// The sent rows' indices, each in range and strictly increasing.
fn sent_rows(name: &str, indices: &[u8], shape: Shape) -> Result<Vec<u32>, CodecError> {
    let rows: Vec<u32> = indices
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for (j, &i) in rows.iter().enumerate() {
        if i as usize >= shape.rows || (j > 0 && i <= rows[j - 1]) {
            return Err(malformed(format!(
                "`{name}`: sent row {i} is out of range (of {}) or not strictly increasing",
                shape.rows
            )));
        }
    }
    Ok(rows)
}

/// The sent rows' packed `row_bits`-bit codes, sign-extended; the one pattern outside the
/// symmetric range (a lone sign bit) is refused, so every code has one meaning.
fn row_codes(name: &str, packed: &[u8], shape: Shape) -> Result<Vec<i8>, CodecError> {
    let (bits, count) = (shape.row_bits, shape.sent_rows * shape.cols);
    let mut raw = Vec::with_capacity(count);
    unpack(packed, count, bits, &mut raw);
    let sign = 1u32 << (bits - 1);
    if let Some(i) = raw.iter().position(|&u| u == sign) {
        return Err(malformed(format!(
            "`{name}`: sent-row code {i} is -{sign}; {bits}-bit codes are -{m}..={m}",
            m = sign - 1
        )));
    }
    // Shifting the code's sign bit up to bit 31 and back sign-extends it.
    let spare = 32 - bits;
    Ok(raw
        .iter()
        .map(|&u| (((u << spare) as i32) >> spare) as i8)
        .collect())
}

/// Each sent row's codes times its scale over the largest code.
fn dequantize_rows(codes: &[i8], scales: &[f32], shape: Shape) -> Vec<f32> {
    let top = shape.row_code() as f32;
    codes
        .chunks_exact(shape.cols)
        .zip(scales)
        .flat_map(|(row, &s)| row.iter().map(move |&q| q as f32 / top * s))
        .collect()
}

/// `out += Σ_d w_d · L_d R_dᵀ`, the deltas in the order given and each element's inner sum in
/// a fixed order, so the result has the same bits on every run and thread count.
pub(crate) fn add(deltas: &[(&Factors, f32)], shape: Shape, out: &mut [f32]) {
    let (cols, r) = (shape.cols, shape.rank);
    out.par_chunks_mut(cols).enumerate().for_each(|(i, row)| {
        for (f, w) in deltas {
            let l = &f.left[i * r..(i + 1) * r];
            let whole = f
                .rows
                .binary_search(&(i as u32))
                .ok()
                .map(|at| &f.row_values[at * cols..(at + 1) * cols]);
            for (j, o) in row.iter_mut().enumerate() {
                let q = &f.right[j * r..(j + 1) * r];
                let mut sum = 0.0f32;
                for k in 0..r {
                    sum += l[k] * q[k];
                }
                if let Some(whole) = whole {
                    sum += whole[j];
                }
                *o += w * sum;
            }
        }
    });
}
