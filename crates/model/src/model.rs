//! [`Model`]: the parameters of one transformer on one device, readable and writable by name.

use burn::tensor::{Device, Tensor, TensorData};

use crate::batch::Batch;
use crate::config::{ModelConfig, ParamSpec};
use crate::error::ModelError;
use crate::head;
use crate::init::init_param;
use crate::optim::Precision;
use crate::transformer::{Params, hidden_states};

/// One parameter, flat, in Hugging Face naming and layout.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedParam {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A Llama-style model: config, device and parameter tensors in `param_specs` order.
pub struct Model {
    config: ModelConfig,
    specs: Vec<ParamSpec>,
    device: Device,
    params: Vec<Tensor<2>>,
}

/// Loss and parameter gradients of one batch (gradients of the mean loss).
pub(crate) struct LossAndGrads {
    pub loss: f64,
    pub grads: Vec<Tensor<2>>,
}

impl Model {
    /// A freshly initialised model: the same `(config, seed)` gives bit-identical parameters.
    pub fn new(config: ModelConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let specs = config.param_specs();
        let params = upload_all(
            specs.iter().map(|s| init_param(&config, s, seed)),
            &specs,
            device,
        );
        Ok(Self {
            config,
            specs,
            device: device.clone(),
            params,
        })
    }

    /// A model from named values, e.g. a checkpoint. Every parameter must be present once.
    pub fn from_params(
        config: ModelConfig,
        params: Vec<NamedParam>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let specs = config.param_specs();
        let params = upload_all(in_spec_order(&specs, params)?, &specs, device);
        Ok(Self {
            config,
            specs,
            device: device.clone(),
            params,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn num_params(&self) -> usize {
        self.specs.iter().map(ParamSpec::numel).sum()
    }

    fn index_of(&self, name: &str) -> Result<usize, ModelError> {
        self.specs
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| ModelError::Param {
                name: name.to_string(),
                why: "no such parameter in this model".to_string(),
            })
    }

    /// One parameter's values, flat in Hugging Face layout.
    pub fn read_param(&self, name: &str) -> Result<Vec<f32>, ModelError> {
        let i = self.index_of(name)?;
        download(&self.params[i], &self.specs[i])
    }

    /// Every parameter, in canonical order.
    pub fn read_params(&self) -> Result<Vec<NamedParam>, ModelError> {
        self.named(&self.params)
    }

    /// Per-parameter tensors (parameters, gradients, moments) as named host values.
    fn named(&self, tensors: &[Tensor<2>]) -> Result<Vec<NamedParam>, ModelError> {
        self.specs
            .iter()
            .zip(tensors)
            .map(|(s, t)| {
                Ok(NamedParam {
                    name: s.name.clone(),
                    shape: s.shape.clone(),
                    values: download(t, s)?,
                })
            })
            .collect()
    }

    /// Replaces one parameter. Optimizer state, if any, stays attached to the name.
    pub fn write_param(&mut self, name: &str, values: &[f32]) -> Result<(), ModelError> {
        let i = self.index_of(name)?;
        let spec = &self.specs[i];
        check_values(spec, values)?;
        self.params[i] = upload(values.to_vec(), spec, &self.device);
        Ok(())
    }

    /// Replaces every parameter at once; all names must be present exactly once, or nothing
    /// changes.
    pub fn write_params(&mut self, params: Vec<NamedParam>) -> Result<(), ModelError> {
        let values = in_spec_order(&self.specs, params)?;
        self.params = upload_all(values, &self.specs, &self.device);
        Ok(())
    }

    /// Mean next-token cross-entropy over the batch, without gradients.
    pub fn evaluate(&self, batch: &Batch) -> Result<f64, ModelError> {
        batch.check(&self.config)?;
        let hidden = hidden_states(
            &Params::new(&self.config, &self.params),
            batch.inputs(&self.device),
        );
        let head = &self.params[Params::head_index(&self.config)];
        Ok(head::loss_sum(hidden, head, &batch.targets())? / batch.num_targets() as f64)
    }

    /// Logits `[batch * seq, vocab]` for `tokens` (rows of `seq` tokens), flat. For checks and
    /// small inputs only: this materialises every logit.
    pub fn logits(&self, tokens: &[u32], batch_size: usize) -> Result<Vec<f32>, ModelError> {
        if batch_size == 0 || tokens.is_empty() || !tokens.len().is_multiple_of(batch_size) {
            return Err(ModelError::Batch {
                why: format!(
                    "{} tokens do not split into {batch_size} equal rows",
                    tokens.len()
                ),
            });
        }
        let seq = tokens.len() / batch_size;
        // Batches carry one extra target per row; logits need none, so pad with token 0.
        let padded: Vec<u32> = tokens
            .chunks(seq)
            .flat_map(|row| row.iter().copied().chain([0]))
            .collect();
        let batch = Batch::new(padded, batch_size, seq)?;
        batch.check(&self.config)?;
        let hidden = hidden_states(
            &Params::new(&self.config, &self.params),
            batch.inputs(&self.device),
        );
        let head = &self.params[Params::head_index(&self.config)];
        let logits = hidden.matmul(head.clone().transpose());
        to_vec(logits, "logits")
    }

    /// Loss and gradients of the mean loss for one batch: the trunk through autodiff, the head
    /// through the fused kernel in `head.rs`.
    pub(crate) fn loss_and_grads(
        &self,
        batch: &Batch,
        matmul: Precision,
    ) -> Result<LossAndGrads, ModelError> {
        batch.check(&self.config)?;
        let tracked: Vec<Tensor<2>> = self
            .params
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .collect();
        let hidden = hidden_states(
            &Params::new(&self.config, &tracked).with_matmul(matmul),
            batch.inputs(&self.device),
        );
        let head_index = Params::head_index(&self.config);
        let scale = 1.0 / batch.num_targets() as f64;
        let head = head::loss_and_grads(
            hidden.clone().inner(),
            &self.params[head_index],
            &batch.targets(),
            scale,
        )?;
        // d(loss)/d(trunk) = backward of <hidden, d loss / d hidden> with the latter held fixed.
        let grads = (hidden * head.hidden).sum().backward();
        let mut out: Vec<Tensor<2>> = tracked
            .iter()
            .zip(&self.params)
            .map(|(t, p)| t.grad(&grads).unwrap_or_else(|| p.zeros_like()))
            .collect();
        out[head_index] = out[head_index].clone() + head.weight;
        Ok(LossAndGrads {
            loss: head.loss_sum * scale,
            grads: out,
        })
    }

    /// Mean loss of `batch` and its gradient for every parameter, by name.
    pub fn loss_and_gradients(&self, batch: &Batch) -> Result<(f64, Vec<NamedParam>), ModelError> {
        let lg = self.loss_and_grads(batch, Precision::F32)?;
        Ok((lg.loss, self.named(&lg.grads)?))
    }

    pub(crate) fn params(&self) -> &[Tensor<2>] {
        &self.params
    }

    pub(crate) fn set_params(&mut self, params: Vec<Tensor<2>>) {
        debug_assert_eq!(params.len(), self.params.len());
        self.params = params;
    }
}

/// The values of `params` in `specs` order, each checked; every name exactly once.
fn in_spec_order(
    specs: &[ParamSpec],
    params: Vec<NamedParam>,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; specs.len()];
    for p in params {
        let Some(i) = specs.iter().position(|s| s.name == p.name) else {
            return Err(ModelError::Param {
                name: p.name,
                why: "no such parameter in this model".to_string(),
            });
        };
        let spec = &specs[i];
        if p.shape != spec.shape {
            return Err(ModelError::Param {
                name: p.name,
                why: format!(
                    "shape {:?} does not match the model's {:?}",
                    p.shape, spec.shape
                ),
            });
        }
        check_values(spec, &p.values)?;
        if slots[i].replace(p.values).is_some() {
            return Err(ModelError::Param {
                name: p.name,
                why: "given twice".to_string(),
            });
        }
    }
    slots
        .into_iter()
        .zip(specs)
        .map(|(slot, spec)| {
            slot.ok_or_else(|| ModelError::Param {
                name: spec.name.clone(),
                why: "missing".to_string(),
            })
        })
        .collect()
}

fn upload_all(
    values: impl IntoIterator<Item = Vec<f32>>,
    specs: &[ParamSpec],
    device: &Device,
) -> Vec<Tensor<2>> {
    values
        .into_iter()
        .zip(specs)
        .map(|(v, s)| upload(v, s, device))
        .collect()
}

fn check_values(spec: &ParamSpec, values: &[f32]) -> Result<(), ModelError> {
    if values.len() != spec.numel() {
        return Err(ModelError::Param {
            name: spec.name.clone(),
            why: format!(
                "{} values given, shape {:?} needs {}",
                values.len(),
                spec.shape,
                spec.numel()
            ),
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(ModelError::Param {
            name: spec.name.clone(),
            why: format!("value at flat index {i} is {} (not finite)", values[i]),
        });
    }
    Ok(())
}

pub(crate) fn upload(values: Vec<f32>, spec: &ParamSpec, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, spec.shape2()), device)
}

pub(crate) fn download(t: &Tensor<2>, spec: &ParamSpec) -> Result<Vec<f32>, ModelError> {
    to_vec(t.clone(), &spec.name)
}

fn to_vec<const D: usize>(t: Tensor<D>, name: &str) -> Result<Vec<f32>, ModelError> {
    t.try_into_vec_as::<f32>().map_err(|e| ModelError::Param {
        name: name.to_string(),
        why: format!("reading from the device failed: {e:?}"),
    })
}
