//! The Gradient transformer: a Llama-style decoder in burn, its training step, optimizer,
//! checkpoints and Hugging Face export.
//!
//! - [`ModelConfig`] is the shape (`ModelConfig::preset("tiny")`); [`ModelConfig::param_specs`]
//!   lists every parameter by its Hugging Face name, in the canonical order that checkpoints,
//!   deltas and the optimizer share.
//! - [`Model`] holds the parameters on a [`Device`] ([`parse_device`]`("cpu")` is burn's
//!   pure-Rust flex backend). Parameters are read and written by name as flat `f32` in Hugging
//!   Face layout ([`Model::read_params`], [`Model::write_params`]).
//! - [`Trainer`] owns a model and its AdamW state and takes optimizer steps over [`Batch`]es;
//!   [`TrainConfig`] sets the schedule, clipping and decay.
//! - [`checkpoint`] saves and loads safetensors with a manifest of blake3 hashes; [`hf`] writes a
//!   directory that `transformers` loads as `LlamaForCausalLM`.
//!
//! ```no_run
//! use gradient_model::{Batch, Model, ModelConfig, TrainConfig, Trainer, parse_device};
//!
//! let device = parse_device("cpu")?;
//! let model = Model::new(ModelConfig::preset("tiny")?, 42, &device)?;
//! let mut trainer = Trainer::new(model, TrainConfig::default())?;
//! let batch = Batch::new(vec![1; 2 * 17], 2, 16)?;
//! let stats = trainer.step(&[batch.clone()])?;
//! println!("step {} loss {:.3}", stats.step, stats.loss);
//! let val_loss = trainer.model().evaluate(&batch)?;
//! # let _ = val_loss;
//! # Ok::<(), gradient_model::ModelError>(())
//! ```

mod batch;
pub mod checkpoint;
mod config;
mod device;
mod error;
mod head;
mod head_device;
mod head_host;
pub mod hf;
mod host_gemm;
mod init;
mod model;
mod optim;
pub mod synthetic;
mod train;
mod transformer;

pub use batch::Batch;
pub use config::{GPT2_VOCAB, Init, ModelConfig, PRESETS, ParamSpec};
pub use device::{CUDA_BUILT, Device, DeviceSpec, cuda_devices, describe, parse_device};
pub use error::ModelError;
pub use model::{Model, NamedParam};
pub use optim::{AdamState, Precision, Schedule, TrainConfig};
pub use train::{StepStats, Trainer};
