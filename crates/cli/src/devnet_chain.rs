//! The chain a devnet runs on: the embedded one (a SQLite file in the devnet's folder), or a
//! subnet the devnet creates on a running subtensor development chain (`--chain subtensor`).
//!
//! A development chain here means one where `//Alice` is the sudo key and holds funds, as on
//! chopsticks with subtensor's chain spec (`scripts/chopsticks.sh`) or a subtensor localnet:
//! Alice creates and owns the subnet, funds the devnet's coldkey, which registers every node
//! and stakes the validator. On a real network nodes register with `gradient subnet register`
//! instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use gradient_chain::{Chain, Keypair, LocalChain, Metagraph, SubnetParams};
use gradient_subtensor::{Endpoint, Mechanism, Subtensor, SubtensorChain, Timeouts};
use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;

const TAO: u64 = 1_000_000_000;
/// What the validator stakes: enough to publish masters and weigh in consensus.
const VALIDATOR_STAKE: u64 = 1_000 * TAO;

/// The devnet's chain, as nodes are pointed at it and as the devnet itself reads it.
pub struct DevChain {
    chain: Arc<dyn Chain>,
    /// The flags that point a node at this chain.
    flags: Vec<String>,
    /// How the devnet's heading names it.
    pub name: String,
    runtime: tokio::runtime::Handle,
}

/// Who the devnet registers.
pub struct Members<'a> {
    /// Signs for every node: pays registrations and the validator's stake.
    pub coldkey: &'a Keypair,
    pub owner: &'a Keypair,
    pub validator: &'a Keypair,
    pub miners: Vec<&'a Keypair>,
}

impl DevChain {
    /// A new embedded chain in `dir` with blocks of `block_ms`; the validator staked.
    pub fn embedded(
        dir: &Path,
        block_ms: u64,
        validator: &Keypair,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64;
        let params = SubnetParams {
            block_time_ms: block_ms,
            tempo: 10,
            weights_rate_limit: 5,
            ..SubnetParams::devnet(now)
        };
        let path: PathBuf = dir.join("chain.sqlite");
        let chain = LocalChain::open_or_create(&path, &params)?;
        chain.set_stake(&validator.account(), VALIDATOR_STAKE)?;
        Ok(DevChain {
            chain: Arc::new(chain),
            flags: vec!["--chain".into(), path.display().to_string()],
            name: path.display().to_string(),
            runtime,
        })
    }

    /// A new subnet on the development chain at `endpoint`, every member registered on it.
    pub fn subtensor(
        endpoint: &Endpoint,
        members: &Members<'_>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self> {
        let netuid = runtime.block_on(create_subnet(endpoint, members))?;
        let chain = runtime.block_on(SubtensorChain::connect(
            endpoint,
            netuid,
            Timeouts::default(),
        ))?;
        Ok(DevChain {
            chain: Arc::new(chain),
            flags: vec![
                "--subtensor.chain_endpoint".into(),
                endpoint.url.clone(),
                "--netuid".into(),
                netuid.to_string(),
            ],
            name: format!("subnet {netuid} on {}", endpoint.url),
            runtime,
        })
    }

    pub fn flags(&self) -> &[String] {
        &self.flags
    }

    pub fn head_block(&self) -> Result<u64> {
        Ok(self.runtime.block_on(self.chain.head())?.block)
    }

    pub fn metagraph(&self) -> Result<Metagraph> {
        Ok(self.runtime.block_on(self.chain.metagraph())?)
    }
}

/// A new subnet's pool on spec 218 holds 1 rao of alpha, so stake would buy none until
/// emissions fill it over many blocks; the devnet fills it at once, 1000 TAO a side.
async fn fill_pool(chain: &Subtensor, alice: &Keypair, netuid: u16) -> Result<()> {
    let side = (1_000 * TAO).to_le_bytes().to_vec();
    let key = || vec![Value::u128(netuid.into())];
    chain
        .sudo_set_storage(
            alice,
            vec![
                ("SubtensorModule", "SubnetAlphaIn", key(), side.clone()),
                ("SubtensorModule", "SubnetTAO", key(), side),
            ],
        )
        .await?;
    Ok(())
}

/// Creates a subnet owned by //Alice with the devnet's hyperparameters, funds the devnet's
/// coldkey, registers every member and stakes the validator; answers the netuid.
async fn create_subnet(endpoint: &Endpoint, m: &Members<'_>) -> Result<u16> {
    let chain = Subtensor::connect(endpoint, Timeouts::default()).await?;
    let alice = Keypair::from_uri("//Alice")?;
    let sudo = |call: &'static str, args: Vec<(&'static str, u128)>| {
        let args = Composite::named(
            args.into_iter()
                .map(|(k, v)| (k.to_string(), Value::u128(v))),
        );
        chain.sudo(&alice, "AdminUtils", call, args)
    };
    sudo("sudo_set_network_rate_limit", vec![("rate_limit", 0)])
        .await
        .context("the devnet needs a development chain whose sudo key is //Alice")?;
    let netuid = chain
        .register_network(&alice, &m.owner.account(), Mechanism::Dynamic)
        .await?;
    fill_pool(&chain, &alice, netuid).await?;
    let n = u128::from(netuid);
    sudo("sudo_set_tempo", vec![("netuid", n), ("tempo", 10)]).await?;
    sudo(
        "sudo_set_weights_set_rate_limit",
        vec![("netuid", n), ("weights_set_rate_limit", 5)],
    )
    .await?;
    let funds = u128::from(VALIDATOR_STAKE) * 10;
    chain.transfer(&alice, &m.coldkey.account(), funds).await?;
    for hotkey in std::iter::once(m.validator).chain(m.miners.iter().copied()) {
        chain
            .burned_register(m.coldkey, netuid, &hotkey.account())
            .await
            .with_context(|| format!("registering {} on subnet {netuid}", hotkey.account()))?;
    }
    chain
        .add_stake(m.coldkey, &m.validator.account(), netuid, VALIDATOR_STAKE)
        .await?;
    let staked = chain.alpha_stake(&m.validator.account(), netuid).await?;
    if staked == 0 {
        bail!(
            "the validator's stake on subnet {netuid} reads as 0 after staking {} TAO",
            VALIDATOR_STAKE / TAO
        );
    }
    Ok(netuid)
}
