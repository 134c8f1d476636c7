//! A subnet's hyperparameters as its owner sets them: `AdminUtils.sudo_set_*`, signed by the
//! owner's coldkey. Which of them the owner may set is the runtime's choice (on spec 218 the
//! tempo is root's alone); a refusal comes back as the pallet's error in words.

use gradient_chain::Keypair;
use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;

use crate::client::{Events, Subtensor};
use crate::error::SubtensorError;

/// A hyperparameter and the value to give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hyperparam {
    /// Blocks between epochs.
    Tempo(u16),
    /// Blocks between two `set_weights` of one hotkey.
    WeightsRateLimit(u64),
    /// The smallest version key `set_weights` accepts.
    WeightsVersionKey(u64),
    /// Blocks after registration during which a neuron cannot be replaced.
    ImmunityPeriod(u16),
    /// Blocks after which a validator's weights no longer count.
    ActivityCutoff(u16),
    /// Whether weights are taken only timelocked (commit-reveal).
    CommitReveal(bool),
}

impl Hyperparam {
    /// The `AdminUtils` call that sets it.
    pub fn call(&self) -> &'static str {
        match self {
            Hyperparam::Tempo(_) => "sudo_set_tempo",
            Hyperparam::WeightsRateLimit(_) => "sudo_set_weights_set_rate_limit",
            Hyperparam::WeightsVersionKey(_) => "sudo_set_weights_version_key",
            Hyperparam::ImmunityPeriod(_) => "sudo_set_immunity_period",
            Hyperparam::ActivityCutoff(_) => "sudo_set_activity_cutoff",
            Hyperparam::CommitReveal(_) => "sudo_set_commit_reveal_weights_enabled",
        }
    }

    fn value(&self) -> Value {
        match *self {
            Hyperparam::Tempo(v)
            | Hyperparam::ImmunityPeriod(v)
            | Hyperparam::ActivityCutoff(v) => Value::u128(v.into()),
            Hyperparam::WeightsRateLimit(v) | Hyperparam::WeightsVersionKey(v) => {
                Value::u128(v.into())
            }
            Hyperparam::CommitReveal(on) => Value::bool(on),
        }
    }
}

impl Subtensor {
    /// Sets one hyperparameter of `netuid`, signed by `owner` (the subnet owner's coldkey).
    /// The call's argument names are read from the runtime: the netuid, then the value.
    pub async fn set_hyperparam(
        &self,
        owner: &Keypair,
        netuid: u16,
        param: Hyperparam,
    ) -> Result<Events, SubtensorError> {
        let fields = self.call_fields("AdminUtils", param.call()).await?;
        let [netuid_name, value_name] = fields.as_slice() else {
            return Err(SubtensorError::shape(
                format!("AdminUtils.{}", param.call()),
                format!("takes {fields:?}, not (netuid, value)"),
            ));
        };
        let args = Composite::named([
            (netuid_name.clone(), Value::u128(netuid.into())),
            (value_name.clone(), param.value()),
        ]);
        self.submit(owner, "AdminUtils", param.call(), args).await
    }
}
