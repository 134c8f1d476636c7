//! [`Trainer`]: a model with its AdamW state, taking one optimizer step per call over one or more
//! micro-batches (gradient accumulation).

use burn::tensor::Tensor;

use crate::batch::Batch;
use crate::error::ModelError;
use crate::model::Model;
use crate::optim::{AdamState, TrainConfig, adamw_update, global_norm};

/// What one optimizer step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepStats {
    /// 0-based index of the step just taken.
    pub step: u64,
    /// Mean training loss over the micro-batches, before the update.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub lr: f64,
    /// Tokens predicted in this step.
    pub tokens: usize,
}

pub struct Trainer {
    model: Model,
    config: TrainConfig,
    state: AdamState,
}

impl Trainer {
    pub fn new(model: Model, config: TrainConfig) -> Result<Self, ModelError> {
        config.validate()?;
        let state = AdamState::zeros_like(model.params());
        Ok(Self {
            model,
            config,
            state,
        })
    }

    /// Resumes with optimizer state from a checkpoint.
    pub fn with_state(
        model: Model,
        config: TrainConfig,
        state: AdamState,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        Ok(Self {
            model,
            config,
            state,
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model, for reading or writing parameters; the optimizer state stays attached by name.
    pub fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn state(&self) -> &AdamState {
        &self.state
    }

    /// Optimizer steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.state.step
    }

    pub fn into_parts(self) -> (Model, AdamState) {
        (self.model, self.state)
    }

    /// One optimizer step on the mean gradient of `micro_batches`.
    pub fn step(&mut self, micro_batches: &[Batch]) -> Result<StepStats, ModelError> {
        let step = self.state.step;
        if micro_batches.is_empty() {
            return Err(ModelError::Batch {
                why: "a step needs at least one micro-batch".to_string(),
            });
        }
        let mut loss = 0.0;
        let mut grads: Option<Vec<Tensor<2>>> = None;
        for batch in micro_batches {
            let lg = self.model.loss_and_grads(batch, self.config.matmul)?;
            loss += lg.loss;
            grads = Some(match grads {
                None => lg.grads,
                Some(acc) => acc.into_iter().zip(lg.grads).map(|(a, g)| a + g).collect(),
            });
        }
        let n = micro_batches.len() as f64;
        let grads: Vec<Tensor<2>> = grads
            .unwrap_or_default()
            .into_iter()
            .map(|g| if n > 1.0 { g.div_scalar(n) } else { g })
            .collect();
        let loss = loss / n;
        let grad_norm = global_norm(&grads);
        if !loss.is_finite() || !grad_norm.is_finite() {
            return Err(ModelError::Diverged {
                step,
                why: format!("loss {loss}, gradient norm {grad_norm}"),
            });
        }
        let clip = self.config.grad_clip;
        let grad_scale = if clip > 0.0 && grad_norm > clip {
            clip / grad_norm
        } else {
            1.0
        };
        let lr = self.config.lr_at(step);
        let params = adamw_update(
            &self.config,
            lr,
            self.model.specs(),
            self.model.params().to_vec(),
            grads,
            grad_scale,
            &mut self.state,
        );
        self.model.set_params(params);
        Ok(StepStats {
            step,
            loss,
            grad_norm,
            lr,
            tokens: micro_batches.iter().map(Batch::num_targets).sum(),
        })
    }
}
