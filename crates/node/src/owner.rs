//! The subnet owner: publishes the run config and the genesis master, both signed.
//!
//! `runs/<run>/run` and the store's root `run` hold the config (TOML); `runs/<run>/masters/0`
//! holds the genesis master, a deterministic function of the model preset and the run seed.

use bytes::Bytes;
use gradient_chain::{AccountId, Keypair};
use gradient_model::{Device, Model, ModelConfig};
use gradient_protocol::RunConfig;
use gradient_store::{Expect, Kind, Store, layout};

use crate::error::NodeError;
use crate::master::Master;

/// The root key where a store names its current run, so `--run URL` finds it.
pub const CURRENT_RUN: &str = "run";
const MAX_RUN_CONFIG: u64 = 1 << 20;

/// The genesis master: the model preset initialised from the run seed, zero momentum.
pub fn genesis_master(run: &RunConfig) -> Result<Master, NodeError> {
    let genesis = Model::new(
        ModelConfig::preset(&run.model.preset)?,
        run.seed,
        &Device::flex(),
    )?;
    let params = genesis
        .read_params()?
        .into_iter()
        .map(|p| p.values)
        .collect();
    Ok(Master::new(params))
}

/// Publishes `run` and its genesis master to `store`, signed by `owner`. Publishing the same
/// run again is a no-op; the genesis is recomputed and must match what is there.
pub async fn init(store: &Store, run: &RunConfig, owner: &Keypair) -> Result<[u8; 32], NodeError> {
    run.validate()?;
    let id = run.id();
    let config = Bytes::from(run.to_toml().into_bytes());
    store
        .publish_envelope(
            &layout::run_config(&id),
            owner,
            Kind::RunConfig,
            id,
            0,
            [0; 32],
            config.clone(),
        )
        .await?;
    store
        .put_envelope(
            CURRENT_RUN,
            owner,
            Kind::RunConfig,
            id,
            0,
            [0; 32],
            config,
            false,
        )
        .await?;

    let specs = ModelConfig::preset(&run.model.preset)?.param_specs();
    let bytes = genesis_master(run)?.to_bytes(&specs)?;
    store
        .publish_envelope(
            &layout::master(&id, 0),
            owner,
            Kind::Master,
            id,
            0,
            [0; 32],
            bytes.into(),
        )
        .await?;
    tracing::info!(run = %hex::encode(id), "published run config and genesis master");
    Ok(id)
}

/// Reads the current run from an owner's store, checking the owner's signature when `owner` is
/// given and that the config hashes to the id it was signed under.
pub async fn load_run(store: &Store, owner: Option<AccountId>) -> Result<RunConfig, NodeError> {
    let expect = Expect {
        kind: Some(Kind::RunConfig),
        signer: owner,
        ..Default::default()
    };
    let opened = store
        .get_envelope(CURRENT_RUN, &expect, MAX_RUN_CONFIG)
        .await?;
    let text = std::str::from_utf8(&opened.payload)
        .map_err(|_| NodeError::Invalid("the run config is not UTF-8".into()))?;
    let run = RunConfig::from_toml(text)?;
    if run.id() != opened.header.run {
        return Err(NodeError::Invalid(
            "the run config does not hash to the run id it was signed under".into(),
        ));
    }
    Ok(run)
}
