//! Everything a node derives from the run config once: the model, the codec, the windows and
//! the data.

use gradient_codec::{Codec, TensorSpec};
use gradient_model::{Device, ModelConfig, ParamSpec};
use gradient_protocol::{RunConfig, Windows};

use crate::corpus::Corpus;
use crate::error::NodeError;

pub struct RunContext {
    pub run: RunConfig,
    pub id: [u8; 32],
    pub model: ModelConfig,
    pub specs: Vec<ParamSpec>,
    pub codec: Codec,
    pub windows: Windows,
    pub corpus: Corpus,
    pub device: Device,
}

impl RunContext {
    pub fn new(run: RunConfig, device: Device) -> Result<Self, NodeError> {
        run.validate()?;
        let model = ModelConfig::preset(&run.model.preset)?;
        if run.data.seq_len > model.context_length {
            return Err(NodeError::Invalid(format!(
                "data.seq_len {} is longer than the model's context {}",
                run.data.seq_len, model.context_length
            )));
        }
        let specs = model.param_specs();
        let tensor_specs = specs
            .iter()
            .map(|s| TensorSpec {
                name: s.name.clone(),
                shape: s.shape.clone(),
            })
            .collect();
        let codec = Codec::new(run.codec.clone(), tensor_specs)?;
        let corpus = Corpus::open(&run)?;
        Ok(RunContext {
            id: run.id(),
            windows: Windows::from(&run.windows),
            run,
            model,
            specs,
            codec,
            corpus,
            device,
        })
    }

    /// A model holding `params` (spec order).
    pub fn model_from(&self, params: &[Vec<f32>]) -> Result<gradient_model::Model, NodeError> {
        let named = self
            .specs
            .iter()
            .zip(params)
            .map(|(spec, values)| gradient_model::NamedParam {
                name: spec.name.clone(),
                shape: spec.shape.clone(),
                values: values.clone(),
            })
            .collect();
        Ok(gradient_model::Model::from_params(
            self.model.clone(),
            named,
            &self.device,
        )?)
    }

    /// A decoded delta as dense tensors (spec order).
    pub fn dense(&self, delta: &gradient_codec::Delta) -> Result<Vec<Vec<f32>>, NodeError> {
        let mut out: Vec<Vec<f32>> = self.specs.iter().map(|s| vec![0.0; s.numel()]).collect();
        self.codec.apply(&[(delta, 1.0)], &mut out)?;
        Ok(out)
    }

    /// Mean loss of a model over one batch per page.
    pub fn mean_loss(
        &self,
        model: &gradient_model::Model,
        batches: &[gradient_model::Batch],
    ) -> Result<f64, NodeError> {
        Ok(mean(&self.page_losses(model, batches)?))
    }

    /// Each batch's mean loss under `model` (one page per batch where pages are measured).
    pub fn page_losses(
        &self,
        model: &gradient_model::Model,
        batches: &[gradient_model::Batch],
    ) -> Result<Vec<f64>, NodeError> {
        batches
            .iter()
            .map(|batch| Ok(model.evaluate(batch)?))
            .collect()
    }
}

/// The mean of per-page losses, summed in page order, so a mean of losses measured one page at a
/// time has the bits of [`RunContext::mean_loss`].
pub fn mean(losses: &[f64]) -> f64 {
    losses.iter().sum::<f64>() / losses.len().max(1) as f64
}
