//! A master: the model's parameters after some window, with the outer optimizer's momentum so
//! that anyone holding it and the next aggregate can recompute the next master exactly. On the
//! wire it is safetensors (f32, Hugging Face names; momentum as `<name>.momentum`) inside an
//! envelope; its hash is the blake3 of that payload.

use std::path::Path;

use gradient_model::ParamSpec;
use gradient_model::checkpoint::{tensors_from_bytes, tensors_to_bytes};

use crate::error::NodeError;

#[derive(Clone, Debug, PartialEq)]
pub struct Master {
    /// Parameters in `ModelConfig::param_specs` order.
    pub params: Vec<Vec<f32>>,
    /// Outer Nesterov momentum, one buffer per parameter.
    pub momentum: Vec<Vec<f32>>,
}

fn momentum_specs(specs: &[ParamSpec]) -> Vec<ParamSpec> {
    specs
        .iter()
        .map(|s| ParamSpec {
            name: format!("{}.momentum", s.name),
            ..s.clone()
        })
        .collect()
}

impl Master {
    /// A master with zero momentum (genesis).
    pub fn new(params: Vec<Vec<f32>>) -> Self {
        let momentum = params.iter().map(|p| vec![0.0; p.len()]).collect();
        Master { params, momentum }
    }

    pub fn to_bytes(&self, specs: &[ParamSpec]) -> Result<Vec<u8>, NodeError> {
        let momentum = momentum_specs(specs);
        let mut tensors = Vec::with_capacity(specs.len() * 2);
        for (spec, values) in specs.iter().zip(&self.params) {
            tensors.push((spec.name.clone(), spec.shape.as_slice(), values.as_slice()));
        }
        for (spec, values) in momentum.iter().zip(&self.momentum) {
            tensors.push((spec.name.clone(), spec.shape.as_slice(), values.as_slice()));
        }
        Ok(tensors_to_bytes(Path::new("master"), &tensors)?)
    }

    /// Parses a master for a model with `specs`; names, shapes, dtype and finiteness are checked.
    pub fn from_bytes(label: &str, bytes: &[u8], specs: &[ParamSpec]) -> Result<Self, NodeError> {
        let mut wanted = specs.to_vec();
        wanted.extend(momentum_specs(specs));
        let mut tensors = tensors_from_bytes(Path::new(label), bytes, &wanted)?;
        let momentum = tensors.split_off(specs.len());
        Ok(Master {
            params: tensors,
            momentum,
        })
    }
}

/// The hash a submission names as its base: blake3 of the master's payload bytes.
pub fn master_hash(payload: &[u8]) -> [u8; 32] {
    *blake3::hash(payload).as_bytes()
}
