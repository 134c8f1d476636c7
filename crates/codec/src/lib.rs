//! Delta compression for Gradient, on plain `f32` slices.
//!
//! A [`Codec`] is built from the run's [`Settings`] and the model's [`TensorSpec`]s. It cuts each
//! tensor into chunks (64x64 tiles for matrices, runs of 4096 for vectors), keeps the `top_k`
//! largest magnitudes of each chunk with bit-packed local indices, and stores their values
//! quantized (2/4/8 bits with per-chunk scales) or as f16/bf16/f32, optionally after an
//! orthonormal DCT-II of each tile; or, with `rank`, it sends every matrix as low-rank factors
//! ([`LowRank`], 8-bit codes per factor column; [`Factoring`] gives a named matrix its own
//! rank and rows sent whole, at 2 to 8 bits a code). The wire format is a
//! safetensors container with JSON metadata. [`Codec::decode`] checks everything before use;
//! [`Codec::apply`] adds weighted deltas into dense buffers, bit-identically on every run.
//! [`ErrorFeedback`] keeps what compression dropped and sends it later.
//!
//! ```
//! use gradient_codec::{Codec, ErrorFeedback, Settings, TensorSpec};
//!
//! let specs = vec![TensorSpec { name: "w".into(), shape: vec![128, 128] }];
//! let codec = Codec::new(Settings::default(), specs)?;
//! let delta: Vec<f32> = (0..128 * 128).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-4).collect();
//! let mut feedback = ErrorFeedback::new(&codec, 0.95);
//! let bytes = feedback.compress(&codec, &[&delta])?;
//! let decoded = codec.decode(&bytes)?;
//! let mut master = vec![vec![0.0f32; 128 * 128]];
//! codec.apply(&[(&decoded, 1.0)], &mut master)?;
//! # Ok::<(), gradient_codec::CodecError>(())
//! ```

mod bits;
mod codec;
mod dct;
mod error;
mod factored;
mod feedback;
mod layout;
mod lowrank;
mod settings;

pub use codec::{Codec, Delta, MAX_MAGNITUDE};
pub use error::CodecError;
pub use feedback::ErrorFeedback;
pub use layout::TensorSpec;
pub use lowrank::LowRank;
pub use settings::{Factoring, Settings, Values};
