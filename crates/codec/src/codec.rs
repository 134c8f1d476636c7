//! [`Codec`]: encode dense tensors into the wire format, decode it strictly, apply deltas.

use std::collections::HashMap;

use half::{bf16, f16};
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::bits::{pack, packed_len, unpack, width_for};
use crate::dct;
use crate::error::{CodecError, malformed};
use crate::factored::{self, Factors};
use crate::layout::{Chunk, TensorSpec, chunks};
use crate::settings::{Settings, Values};

const VERSION: u32 = 1;
const METADATA_KEY: &str = "gradient-codec";
/// Kept magnitudes and pass-through values beyond this are refused: no honest weight delta is
/// that large, and it keeps every decoded sum finite.
pub const MAX_MAGNITUDE: f32 = 1e6;

/// The codec for one model: settings plus the tensors every delta must have, in order.
pub struct Codec {
    settings: Settings,
    specs: Vec<TensorSpec>,
    layouts: Vec<Vec<Chunk>>,
    /// DCT matrices by size, for every tile side present (only with `settings.dct`).
    dct: HashMap<usize, Vec<f32>>,
}

/// A decoded delta: per tensor, the kept values at their positions (or every value, dense), or
/// a matrix's factors.
pub struct Delta {
    tensors: Vec<Part>,
}

enum Part {
    Sparse(SparseTensor),
    Factors(Factors),
}

struct SparseTensor {
    /// Local index of each kept value within its chunk, chunk after chunk (empty when dense).
    indices: Vec<u32>,
    values: Vec<f32>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct Metadata {
    version: u32,
    settings: Settings,
    tensors: Vec<TensorSpec>,
}

/// Byte lengths of one tensor's three entries.
struct Lengths {
    indices: usize,
    values: usize,
    scales: usize,
}

impl Codec {
    pub fn new(settings: Settings, specs: Vec<TensorSpec>) -> Result<Self, CodecError> {
        settings.validate()?;
        let mut names = std::collections::HashSet::new();
        for s in &specs {
            if s.shape.is_empty() || s.shape.len() > 2 || s.numel() == 0 || !names.insert(&s.name) {
                return Err(CodecError::Shape {
                    why: format!(
                        "tensor `{}` with shape {:?}: need unique names and non-empty rank 1 or 2 shapes",
                        s.name, s.shape
                    ),
                });
            }
        }
        if let Some(f) = settings.factors.iter().find(|f| {
            !specs
                .iter()
                .any(|s| s.name == f.tensor && is_tiled(&s.shape))
        }) {
            return Err(CodecError::Settings {
                why: format!(
                    "factors name `{}`, which is not a matrix of this model: name one of its \
                     matrices or leave it out of the settings' factors",
                    f.tensor
                ),
            });
        }
        let layouts: Vec<Vec<Chunk>> = specs
            .iter()
            .map(|s| chunks(&s.shape, settings.tile, settings.chunk))
            .collect();
        let mut dct = HashMap::new();
        if settings.dct {
            for (spec, layout) in specs.iter().zip(&layouts) {
                if is_tiled(&spec.shape) {
                    for c in layout {
                        for n in [c.rows, c.cols] {
                            dct.entry(n).or_insert_with(|| dct::matrix(n));
                        }
                    }
                }
            }
        }
        Ok(Self {
            settings,
            specs,
            layouts,
            dct,
        })
    }

    /// Whether buffers of these lengths hold exactly this model's tensors, in order.
    pub(crate) fn fits(&self, lengths: impl ExactSizeIterator<Item = usize>) -> bool {
        lengths.len() == self.specs.len() && lengths.zip(&self.specs).all(|(n, s)| n == s.numel())
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn kept(&self, chunk: &Chunk) -> usize {
        if self.settings.values == Values::Dense {
            chunk.len()
        } else {
            self.settings.top_k.min(chunk.len())
        }
    }

    fn index_width(&self, t: usize) -> u32 {
        width_for(self.layouts[t].iter().map(Chunk::len).max().unwrap_or(1))
    }

    /// The factored shape of tensor `t`, if the settings factor it.
    fn factored(&self, t: usize) -> Option<factored::Shape> {
        let spec = &self.specs[t];
        match spec.shape[..] {
            [rows, cols] if self.settings.rank > 0 && is_tiled(&spec.shape) => {
                let (rank, rows_per_mille, row_bits) =
                    match self.settings.factors.iter().find(|f| f.tensor == spec.name) {
                        Some(own) => (own.rank, own.rows_per_mille, own.row_bits),
                        None => (
                            self.settings.rank,
                            self.settings.rows_per_mille,
                            crate::settings::ROW_BITS,
                        ),
                    };
                Some(factored::Shape::new(
                    rows,
                    cols,
                    rank,
                    rows_per_mille,
                    row_bits,
                ))
            }
            _ => None,
        }
    }

    fn lengths(&self, t: usize) -> Lengths {
        if let Some(shape) = self.factored(t) {
            return Lengths {
                indices: shape.indices_len(),
                values: shape.values_len(),
                scales: shape.scales_len(),
            };
        }
        let layout = &self.layouts[t];
        let kept: usize = layout.iter().map(|c| self.kept(c)).sum();
        let values = self.settings.values;
        Lengths {
            indices: if values == Values::Dense {
                0
            } else {
                packed_len(kept, self.index_width(t))
            },
            values: packed_len(kept, values.bits()),
            scales: if values.quantized() {
                layout.len() * 8
            } else {
                0
            },
        }
    }

    /// The most bytes an encoded delta for this model can take (payload plus header room).
    pub fn max_encoded_bytes(&self) -> usize {
        let payload: usize = (0..self.specs.len())
            .map(|t| {
                let l = self.lengths(t);
                l.indices + l.values + l.scales
            })
            .sum();
        payload
            + 4096
            + self
                .specs
                .iter()
                .map(|s| 3 * (s.name.len() + 128) + 2 * s.name.len())
                .sum::<usize>()
    }

    /// Dense f32 size of the model, for compression ratios.
    pub fn dense_bytes(&self) -> usize {
        self.specs.iter().map(|s| s.numel() * 4).sum()
    }

    /// Encodes one dense tensor per spec, in order.
    pub fn encode(&self, tensors: &[&[f32]]) -> Result<Vec<u8>, CodecError> {
        if tensors.len() != self.specs.len() {
            return Err(CodecError::Shape {
                why: format!(
                    "{} tensors given, the model has {}",
                    tensors.len(),
                    self.specs.len()
                ),
            });
        }
        let mut entries: Vec<(String, Vec<u8>)> = Vec::with_capacity(3 * tensors.len());
        for (t, (spec, data)) in self.specs.iter().zip(tensors).enumerate() {
            if data.len() != spec.numel() {
                return Err(CodecError::Shape {
                    why: format!(
                        "`{}` has {} values, its shape {:?} needs {}",
                        spec.name,
                        data.len(),
                        spec.shape,
                        spec.numel()
                    ),
                });
            }
            if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                return Err(CodecError::Shape {
                    why: format!("`{}` has a non-finite value at {i}", spec.name),
                });
            }
            let (indices, values, scales) = self.encode_tensor(t, data);
            entries.push((format!("{}/indices", spec.name), indices));
            entries.push((format!("{}/values", spec.name), values));
            entries.push((format!("{}/scales", spec.name), scales));
        }
        let metadata = Metadata {
            version: VERSION,
            settings: self.settings.clone(),
            tensors: self.specs.clone(),
        };
        let json = serde_json::to_string(&metadata).map_err(|e| malformed(e.to_string()))?;
        let views = entries
            .iter()
            .map(|(name, bytes)| {
                TensorView::new(Dtype::U8, vec![bytes.len()], bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| malformed(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        safetensors::serialize(
            views,
            Some(HashMap::from([(METADATA_KEY.to_string(), json)])),
        )
        .map_err(|e| malformed(e.to_string()))
    }

    fn encode_tensor(&self, t: usize, data: &[f32]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        if let Some(shape) = self.factored(t) {
            return factored::encode(data, shape);
        }
        let values_mode = self.settings.values;
        if values_mode == Values::Dense {
            return (
                Vec::new(),
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                Vec::new(),
            );
        }
        let transform = self.settings.dct && is_tiled(&self.specs[t].shape);
        let picked: Vec<(Vec<u32>, Vec<f32>)> = self.layouts[t]
            .par_iter()
            .map(|c| {
                let local = gather(data, c);
                let local = if transform {
                    dct::forward(
                        &local,
                        c.rows,
                        c.cols,
                        &self.dct[&c.rows],
                        &self.dct[&c.cols],
                    )
                } else {
                    local
                };
                top_k(&local, self.kept(c))
            })
            .collect();
        let mut indices = Vec::new();
        let mut values = Vec::new();
        let mut scales = Vec::new();
        let mut all_idx = Vec::new();
        let mut codes = Vec::new();
        for (idx, vals) in &picked {
            all_idx.extend_from_slice(idx);
            match values_mode {
                Values::Q2 | Values::Q4 | Values::Q8 => {
                    let (lo, hi) = magnitude_range(vals);
                    scales.extend_from_slice(&lo.to_le_bytes());
                    scales.extend_from_slice(&hi.to_le_bytes());
                    codes.extend(
                        vals.iter()
                            .map(|&v| quantize(v, lo, hi, values_mode.bits())),
                    );
                }
                Values::F16 => vals
                    .iter()
                    .for_each(|&v| values.extend_from_slice(&f16::from_f32(v).to_le_bytes())),
                Values::Bf16 => vals
                    .iter()
                    .for_each(|&v| values.extend_from_slice(&bf16::from_f32(v).to_le_bytes())),
                Values::F32 => vals
                    .iter()
                    .for_each(|&v| values.extend_from_slice(&v.to_le_bytes())),
                Values::Dense => unreachable!("handled above"),
            }
        }
        pack(&all_idx, self.index_width(t), &mut indices);
        if values_mode.quantized() {
            pack(&codes, values_mode.bits(), &mut values);
        }
        (indices, values, scales)
    }

    /// Decodes bytes written by anyone. Every size, name, shape, index and scale is checked before
    /// use; the result never holds more values than the model has.
    pub fn decode(&self, bytes: &[u8]) -> Result<Delta, CodecError> {
        let max = self.max_encoded_bytes();
        if bytes.len() > max {
            return Err(malformed(format!(
                "{} bytes; a delta for this model is at most {max}",
                bytes.len()
            )));
        }
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| malformed(format!("not a safetensors container: {e}")))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| malformed(e.to_string()))?;
        let json = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| malformed(format!("no `{METADATA_KEY}` metadata")))?;
        let meta: Metadata =
            serde_json::from_str(json).map_err(|e| malformed(format!("metadata: {e}")))?;
        if meta.version != VERSION {
            return Err(malformed(format!(
                "codec version {} (this node reads {VERSION})",
                meta.version
            )));
        }
        if meta.settings != self.settings {
            return Err(malformed(format!(
                "settings {:?} differ from the run's {:?}",
                meta.settings, self.settings
            )));
        }
        if meta.tensors != self.specs {
            let first = meta
                .tensors
                .iter()
                .zip(&self.specs)
                .position(|(a, b)| a != b);
            return Err(CodecError::Shape {
                why: match first {
                    Some(i) => format!(
                        "tensor {i} is {:?}, the model has {:?}",
                        meta.tensors[i], self.specs[i]
                    ),
                    None => format!(
                        "{} tensors, the model has {}",
                        meta.tensors.len(),
                        self.specs.len()
                    ),
                },
            });
        }
        if st.len() != 3 * self.specs.len() {
            return Err(malformed(format!(
                "{} entries, expected {}",
                st.len(),
                3 * self.specs.len()
            )));
        }
        let tensors = (0..self.specs.len())
            .map(|t| self.decode_tensor(t, &st))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Delta { tensors })
    }

    fn decode_tensor(&self, t: usize, st: &SafeTensors) -> Result<Part, CodecError> {
        let name = &self.specs[t].name;
        let lengths = self.lengths(t);
        let entry = |part: &str, len: usize| -> Result<&[u8], CodecError> {
            let key = format!("{name}/{part}");
            let view = st
                .tensor(&key)
                .map_err(|_| malformed(format!("entry `{key}` is missing")))?;
            if view.dtype() != Dtype::U8 || view.data().len() != len {
                return Err(malformed(format!(
                    "entry `{key}` is {:?} with {} bytes, expected U8 with {len}",
                    view.dtype(),
                    view.data().len()
                )));
            }
            Ok(view.data())
        };
        let idx_bytes = entry("indices", lengths.indices)?;
        let val_bytes = entry("values", lengths.values)?;
        let scale_bytes = entry("scales", lengths.scales)?;
        if let Some(shape) = self.factored(t) {
            return factored::decode(name, idx_bytes, val_bytes, scale_bytes, shape)
                .map(Part::Factors);
        }
        let mode = self.settings.values;
        let layout = &self.layouts[t];
        if mode == Values::Dense {
            let values = f32s(val_bytes);
            check_values(name, &values)?;
            return Ok(Part::Sparse(SparseTensor {
                indices: Vec::new(),
                values,
            }));
        }
        let kept: usize = layout.iter().map(|c| self.kept(c)).sum();
        let mut indices = Vec::with_capacity(kept);
        unpack(idx_bytes, kept, self.index_width(t), &mut indices);
        let mut at = 0;
        for (ci, c) in layout.iter().enumerate() {
            let k = self.kept(c);
            let chunk_idx = &indices[at..at + k];
            for (j, &i) in chunk_idx.iter().enumerate() {
                if i as usize >= c.len() || (j > 0 && i <= chunk_idx[j - 1]) {
                    return Err(malformed(format!(
                        "`{name}` chunk {ci}: index {i} is out of range (chunk of {}) or not strictly increasing",
                        c.len()
                    )));
                }
            }
            at += k;
        }
        let values = match mode {
            Values::Q2 | Values::Q4 | Values::Q8 => {
                let scales = f32s(scale_bytes);
                let mut codes = Vec::with_capacity(kept);
                unpack(val_bytes, kept, mode.bits(), &mut codes);
                let mut values = Vec::with_capacity(kept);
                let mut at = 0;
                for (ci, c) in layout.iter().enumerate() {
                    let (lo, hi) = (scales[2 * ci], scales[2 * ci + 1]);
                    if !(lo.is_finite()
                        && hi.is_finite()
                        && 0.0 <= lo
                        && lo <= hi
                        && hi <= MAX_MAGNITUDE)
                    {
                        return Err(malformed(format!(
                            "`{name}` chunk {ci}: scales ({lo}, {hi}) must satisfy 0 <= lo <= hi <= {MAX_MAGNITUDE}"
                        )));
                    }
                    let k = self.kept(c);
                    values.extend(
                        codes[at..at + k]
                            .iter()
                            .map(|&q| dequantize(q, lo, hi, mode.bits())),
                    );
                    at += k;
                }
                values
            }
            Values::F16 => val_bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Values::Bf16 => val_bytes
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Values::F32 => f32s(val_bytes),
            Values::Dense => unreachable!("handled above"),
        };
        check_values(name, &values)?;
        Ok(Part::Sparse(SparseTensor { indices, values }))
    }

    /// `out[t] += sum_i weight_i * delta_i[t]` for every tensor, the deltas added in the order
    /// given. Work is split across threads by disjoint blocks of the output, so each element's
    /// sum has the same order, and the same bits, on every run and thread count.
    pub fn apply(&self, deltas: &[(&Delta, f32)], out: &mut [Vec<f32>]) -> Result<(), CodecError> {
        if !self.fits(out.iter().map(Vec::len)) {
            return Err(CodecError::Shape {
                why: "the output buffers do not match the model's tensors".to_string(),
            });
        }
        for (t, (spec, buf)) in self.specs.iter().zip(out.iter_mut()).enumerate() {
            if let Some(shape) = self.factored(t) {
                let parts: Vec<(&Factors, f32)> = deltas
                    .iter()
                    .filter_map(|(d, w)| match &d.tensors[t] {
                        Part::Factors(f) => Some((f, *w)),
                        Part::Sparse(_) => None,
                    })
                    .collect();
                factored::add(&parts, shape, buf);
                continue;
            }
            let sparse: Vec<(&SparseTensor, f32)> = deltas
                .iter()
                .filter_map(|(d, w)| match &d.tensors[t] {
                    Part::Sparse(s) => Some((s, *w)),
                    Part::Factors(_) => None,
                })
                .collect();
            let layout = &self.layouts[t];
            // Chunks are ordered tile-row by tile-row; one block is one tile-row (or one chunk).
            let (block_len, per_block) = match spec.shape[..] {
                [r, c] if r > 1 && c > 1 => {
                    (self.settings.tile * c, c.div_ceil(self.settings.tile))
                }
                _ => (self.settings.chunk, 1),
            };
            let transform = self.settings.dct && is_tiled(&spec.shape);
            // Where each chunk's kept values start, per delta (the same for every delta).
            let mut starts = Vec::with_capacity(layout.len());
            let mut at = 0;
            for c in layout {
                starts.push(at);
                at += self.kept(c);
            }
            buf.par_chunks_mut(block_len)
                .enumerate()
                .for_each(|(b, block)| {
                    let base = b * block_len;
                    for ci in b * per_block..((b + 1) * per_block).min(layout.len()) {
                        let c = &layout[ci];
                        if transform {
                            // Sum the coefficients in delta order, then one inverse DCT: the
                            // transform is linear, and the order of every sum is fixed.
                            let mut coef = vec![0.0f32; c.len()];
                            for (d, w) in &sparse {
                                let s = starts[ci];
                                for (&i, &v) in
                                    d.indices[s..s + self.kept(c)].iter().zip(&d.values[s..])
                                {
                                    coef[i as usize] += w * v;
                                }
                            }
                            let x = dct::inverse(
                                &coef,
                                c.rows,
                                c.cols,
                                &self.dct[&c.rows],
                                &self.dct[&c.cols],
                            );
                            for (i, v) in x.into_iter().enumerate() {
                                block[c.position(i) - base] += v;
                            }
                            continue;
                        }
                        for (d, w) in &sparse {
                            if d.indices.is_empty() {
                                for i in 0..c.len() {
                                    block[c.position(i) - base] += w * d.values[c.position(i)];
                                }
                            } else {
                                let s = starts[ci];
                                for (&i, &v) in
                                    d.indices[s..s + self.kept(c)].iter().zip(&d.values[s..])
                                {
                                    block[c.position(i as usize) - base] += w * v;
                                }
                            }
                        }
                    }
                });
        }
        Ok(())
    }
}

/// A chunk's values, row after row.
fn gather(data: &[f32], c: &Chunk) -> Vec<f32> {
    let mut local = Vec::with_capacity(c.len());
    for r in 0..c.rows {
        let start = c.offset + r * c.stride;
        local.extend_from_slice(&data[start..start + c.cols]);
    }
    local
}

/// The `k` largest magnitudes of a chunk's values: local indices ascending, with their values.
/// Ties go to the lower index, so the choice is deterministic.
fn top_k(local: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
    let mut order: Vec<u32> = (0..local.len() as u32).collect();
    if k < order.len() {
        order.select_nth_unstable_by(k, |&a, &b| {
            local[b as usize]
                .abs()
                .total_cmp(&local[a as usize].abs())
                .then(a.cmp(&b))
        });
        order.truncate(k);
    }
    order.sort_unstable();
    let values = order.iter().map(|&i| local[i as usize]).collect();
    (order, values)
}

/// Whether a shape is cut into tiles (and so may be DCT-coded) rather than runs.
fn is_tiled(shape: &[usize]) -> bool {
    matches!(shape, [r, c] if *r > 1 && *c > 1)
}

fn magnitude_range(values: &[f32]) -> (f32, f32) {
    let lo = values.iter().map(|v| v.abs()).fold(f32::INFINITY, f32::min);
    let hi = values.iter().map(|v| v.abs()).fold(0.0, f32::max);
    if lo.is_finite() {
        (lo.min(hi), hi)
    } else {
        (0.0, 0.0)
    }
}

/// Sign in the top bit, magnitude level in the rest.
fn quantize(v: f32, lo: f32, hi: f32, bits: u32) -> u32 {
    let levels = 1u32 << (bits - 1);
    let level = if levels == 1 || hi <= lo {
        0
    } else {
        (((v.abs() - lo) / (hi - lo)) * (levels - 1) as f32)
            .round()
            .clamp(0.0, (levels - 1) as f32) as u32
    };
    (u32::from(v < 0.0) << (bits - 1)) | level
}

fn dequantize(q: u32, lo: f32, hi: f32, bits: u32) -> f32 {
    let levels = 1u32 << (bits - 1);
    let level = q & (levels - 1);
    let magnitude = if levels == 1 {
        0.5 * (lo + hi)
    } else {
        lo + (hi - lo) * level as f32 / (levels - 1) as f32
    };
    if q >> (bits - 1) == 1 {
        -magnitude
    } else {
        magnitude
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn check_values(name: &str, values: &[f32]) -> Result<(), CodecError> {
    match values
        .iter()
        .position(|v| !(v.is_finite() && v.abs() <= MAX_MAGNITUDE))
    {
        Some(i) => Err(malformed(format!(
            "`{name}` value {i} is {} (must be finite, |v| <= {MAX_MAGNITUDE})",
            values[i]
        ))),
        None => Ok(()),
    }
}
