//! AdamW with decoupled weight decay, global-norm clipping and a warmup + cosine or
//! warmup-stable-decay learning-rate schedule.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::config::ParamSpec;
use crate::error::ModelError;

/// Optimizer and schedule settings for the inner loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// The schedule ends at `lr * min_lr_ratio`.
    pub min_lr_ratio: f64,
    pub warmup_steps: u64,
    /// Length of the schedule; steps beyond it stay at the final rate.
    pub total_steps: u64,
    pub schedule: Schedule,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Gradients are scaled down to this global L2 norm when above it; 0 disables clipping.
    pub grad_clip: f64,
    /// The training step's matmuls: `f32`, or `bf16` inputs with the weights, optimizer state,
    /// norms, softmax and loss in f32 (the usual mixed-precision recipe, for GPUs). Evaluation
    /// is always f32, so validators agree whatever their miners train with. Left out of a
    /// serialised config when f32.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub matmul: Precision,
}

/// The precision of the training step's matrix products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }

    /// `f32` or `bf16`, as a flag takes it.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            other => Err(ModelError::InvalidConfig {
                why: format!("matmul precision `{other}`: expected f32 or bf16"),
            }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Warmup, then cosine decay to the minimum.
    Cosine,
    /// Warmup, constant, then linear decay over the last `decay_fraction` of the steps.
    Wsd { decay_fraction: f64 },
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 3e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 10,
            total_steps: 1000,
            schedule: Schedule::Cosine,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            grad_clip: 1.0,
            matmul: Precision::F32,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |why: String| Err(ModelError::InvalidConfig { why });
        let unit = |x: f64| (0.0..1.0).contains(&x);
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!(
                "learning rate {} must be finite and positive",
                self.lr
            ));
        }
        if !(self.min_lr_ratio.is_finite() && (0.0..=1.0).contains(&self.min_lr_ratio)) {
            return bad(format!(
                "min_lr_ratio {} must be within [0, 1]",
                self.min_lr_ratio
            ));
        }
        if !unit(self.beta1) || !unit(self.beta2) {
            return bad(format!(
                "betas ({}, {}) must be within [0, 1)",
                self.beta1, self.beta2
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad(format!("eps {} must be finite and positive", self.eps));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight_decay {} must be finite and >= 0",
                self.weight_decay
            ));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return bad(format!(
                "grad_clip {} must be finite and >= 0",
                self.grad_clip
            ));
        }
        if let Schedule::Wsd { decay_fraction } = self.schedule
            && !(decay_fraction.is_finite() && (0.0..=1.0).contains(&decay_fraction))
        {
            return bad(format!(
                "decay_fraction {decay_fraction} must be within [0, 1]"
            ));
        }
        Ok(())
    }

    /// The learning rate for the (0-based) step.
    pub fn lr_at(&self, step: u64) -> f64 {
        let min = self.lr * self.min_lr_ratio;
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let total = self.total_steps.max(self.warmup_steps + 1);
        let step = step.min(total);
        match self.schedule {
            Schedule::Cosine => {
                let progress =
                    (step - self.warmup_steps) as f64 / (total - self.warmup_steps) as f64;
                min + 0.5 * (self.lr - min) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            Schedule::Wsd { decay_fraction } => {
                let decay_steps =
                    ((total - self.warmup_steps) as f64 * decay_fraction).round() as u64;
                let decay_start = total - decay_steps;
                if step < decay_start || decay_steps == 0 {
                    self.lr
                } else {
                    let progress = (step - decay_start) as f64 / decay_steps as f64;
                    self.lr + (min - self.lr) * progress
                }
            }
        }
    }
}

/// AdamW moments, one pair per parameter in canonical order; `step` counts updates applied.
pub struct AdamState {
    pub(crate) step: u64,
    pub(crate) exp_avg: Vec<Tensor<2>>,
    pub(crate) exp_avg_sq: Vec<Tensor<2>>,
}

impl AdamState {
    pub(crate) fn zeros_like(params: &[Tensor<2>]) -> Self {
        Self {
            step: 0,
            exp_avg: params.iter().map(Tensor::zeros_like).collect(),
            exp_avg_sq: params.iter().map(Tensor::zeros_like).collect(),
        }
    }

    pub fn step(&self) -> u64 {
        self.step
    }
}

/// Global L2 norm of all gradients, read back in one transfer.
pub(crate) fn global_norm(grads: &[Tensor<2>]) -> f64 {
    let sums: Vec<Tensor<1>> = grads.iter().map(|g| g.clone().square().sum()).collect();
    let total: f32 = Tensor::cat(sums, 0).sum().into_scalar();
    (total as f64).sqrt()
}

/// One AdamW update of `params` in place. `grad_scale` folds clipping into the update.
pub(crate) fn adamw_update(
    cfg: &TrainConfig,
    lr: f64,
    specs: &[ParamSpec],
    params: Vec<Tensor<2>>,
    grads: Vec<Tensor<2>>,
    grad_scale: f64,
    state: &mut AdamState,
) -> Vec<Tensor<2>> {
    state.step += 1;
    let t = state.step as i32;
    let bias1 = 1.0 - cfg.beta1.powi(t);
    let bias2 = 1.0 - cfg.beta2.powi(t);
    let mut out = Vec::with_capacity(params.len());
    for (i, ((p, g), spec)) in params.into_iter().zip(grads).zip(specs).enumerate() {
        let g = g.mul_scalar(grad_scale);
        let m =
            state.exp_avg[i].clone().mul_scalar(cfg.beta1) + g.clone().mul_scalar(1.0 - cfg.beta1);
        let v = state.exp_avg_sq[i].clone().mul_scalar(cfg.beta2)
            + g.square().mul_scalar(1.0 - cfg.beta2);
        let decay = if spec.decays() {
            1.0 - lr * cfg.weight_decay
        } else {
            1.0
        };
        let denom = v.clone().div_scalar(bias2).sqrt().add_scalar(cfg.eps);
        let update = m.clone().div(denom).mul_scalar(lr / bias1);
        out.push(p.mul_scalar(decay) - update);
        state.exp_avg[i] = m;
        state.exp_avg_sq[i] = v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_the_minimum() {
        let cfg = TrainConfig {
            lr: 1.0,
            warmup_steps: 4,
            total_steps: 14,
            ..TrainConfig::default()
        };
        assert_eq!(cfg.lr_at(0), 0.25);
        assert_eq!(cfg.lr_at(3), 1.0);
        assert!((cfg.lr_at(4) - 1.0).abs() < 1e-12);
        assert!((cfg.lr_at(9) - 0.55).abs() < 1e-12);
        assert!((cfg.lr_at(14) - 0.1).abs() < 1e-12);
        assert!((cfg.lr_at(1000) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn wsd_holds_then_decays_linearly() {
        let cfg = TrainConfig {
            lr: 1.0,
            warmup_steps: 0,
            total_steps: 10,
            schedule: Schedule::Wsd {
                decay_fraction: 0.2,
            },
            ..TrainConfig::default()
        };
        assert_eq!(cfg.lr_at(7), 1.0);
        assert_eq!(cfg.lr_at(8), 1.0);
        assert!((cfg.lr_at(9) - 0.55).abs() < 1e-12);
        assert!((cfg.lr_at(10) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_settings() {
        let cfg = TrainConfig {
            lr: f64::NAN,
            ..TrainConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("learning rate")
        );
        let cfg = TrainConfig {
            beta2: 1.0,
            ..TrainConfig::default()
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("betas"));
    }
}
