//! `gradient subnet` and `gradient owner subnet`: a subnet on a real subtensor chain, with the
//! flags Bittensor operators type (`--subtensor.network`, `--subtensor.chain_endpoint`,
//! `--netuid`) and btcli's wallets: register a hotkey (the coldkey pays the burn, shown first),
//! list the subnet's neurons, create a subnet.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gradient_chain::Chain;
use gradient_chain::Keypair;
use gradient_subtensor::subnet::tao;
use gradient_subtensor::{Endpoint, Hyperparam, Mechanism, Subtensor, SubtensorChain, Timeouts};

use crate::wallet::{WalletArgs, coldkey};

/// Which subtensor to talk to, as Bittensor's SDK names it.
#[derive(Args, Clone, Debug)]
pub struct SubtensorArgs {
    /// finney, test or local (ws://127.0.0.1:9944).
    #[arg(long = "subtensor.network", env = "GRADIENT_SUBTENSOR_NETWORK")]
    pub network: Option<String>,
    /// A subtensor node's ws:// or wss:// URL; wins over --subtensor.network.
    #[arg(
        long = "subtensor.chain_endpoint",
        env = "GRADIENT_SUBTENSOR_CHAIN_ENDPOINT"
    )]
    pub chain_endpoint: Option<String>,
}

impl SubtensorArgs {
    /// The endpoint the flags name, if they name one.
    pub fn endpoint(&self) -> Result<Option<Endpoint>> {
        Ok(Endpoint::from_flags(
            self.network.as_deref(),
            self.chain_endpoint.as_deref(),
        )?)
    }

    /// The endpoint the flags name, or an error saying which flags to pass.
    fn required_endpoint(&self) -> Result<Endpoint> {
        self.endpoint()?.context(
            "no chain given: pass --subtensor.network finney|test|local or \
             --subtensor.chain_endpoint ws://HOST:PORT",
        )
    }

    async fn connect(&self) -> Result<Subtensor> {
        Ok(Subtensor::connect(&self.required_endpoint()?, Timeouts::default()).await?)
    }
}

#[derive(Subcommand)]
pub enum SubnetCommand {
    /// Register the wallet's hotkey on a subnet; its coldkey pays the burn (shown, then asked).
    Register {
        #[command(flatten)]
        subtensor: SubtensorArgs,
        #[command(flatten)]
        wallet: WalletArgs,
        #[arg(long, env = "GRADIENT_NETUID")]
        netuid: u16,
        /// Pay without asking.
        #[arg(long)]
        yes: bool,
    },
    /// The subnet's neurons as the chain reports them.
    Neurons {
        #[command(flatten)]
        subtensor: SubtensorArgs,
        #[arg(long, env = "GRADIENT_NETUID")]
        netuid: u16,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum OwnerSubnetCommand {
    /// Create a subnet owned by the wallet; its coldkey pays the lock (shown, then asked).
    Create {
        #[command(flatten)]
        subtensor: SubtensorArgs,
        #[command(flatten)]
        wallet: WalletArgs,
        /// Pay without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Show the subnet's hyperparameters, or set some, signed by the owner's coldkey.
    Hyperparams(HyperparamsArgs),
}

#[derive(Args)]
pub struct HyperparamsArgs {
    #[command(flatten)]
    subtensor: SubtensorArgs,
    #[command(flatten)]
    wallet: WalletArgs,
    #[arg(long, env = "GRADIENT_NETUID")]
    netuid: u16,
    /// Blocks between epochs (root alone may set it on some runtimes).
    #[arg(long)]
    tempo: Option<u16>,
    /// Blocks between two weight settings of one validator.
    #[arg(long)]
    weights_rate_limit: Option<u64>,
    /// The smallest version key validators' weights must carry.
    #[arg(long)]
    weights_version_key: Option<u64>,
    /// Blocks a new neuron cannot be replaced for.
    #[arg(long)]
    immunity_period: Option<u16>,
    /// Blocks after which a validator's weights stop counting.
    #[arg(long)]
    activity_cutoff: Option<u16>,
    /// Take weights only timelocked (commit-reveal): on or off.
    #[arg(long, value_parser = ["on", "off"])]
    commit_reveal: Option<String>,
}

impl HyperparamsArgs {
    fn changes(&self) -> Vec<Hyperparam> {
        let mut all = Vec::new();
        all.extend(self.tempo.map(Hyperparam::Tempo));
        all.extend(self.weights_rate_limit.map(Hyperparam::WeightsRateLimit));
        all.extend(self.weights_version_key.map(Hyperparam::WeightsVersionKey));
        all.extend(self.immunity_period.map(Hyperparam::ImmunityPeriod));
        all.extend(self.activity_cutoff.map(Hyperparam::ActivityCutoff));
        all.extend(
            self.commit_reveal
                .as_deref()
                .map(|v| Hyperparam::CommitReveal(v == "on")),
        );
        all
    }
}

pub fn run(command: SubnetCommand) -> Result<()> {
    runtime()?.block_on(async {
        match command {
            SubnetCommand::Register {
                subtensor,
                wallet,
                netuid,
                yes,
            } => register(&subtensor, &wallet, netuid, yes).await,
            SubnetCommand::Neurons {
                subtensor,
                netuid,
                json,
            } => neurons(&subtensor, netuid, json).await,
        }
    })
}

pub fn run_owner(command: OwnerSubnetCommand) -> Result<()> {
    runtime()?.block_on(async {
        match command {
            OwnerSubnetCommand::Create {
                subtensor,
                wallet,
                yes,
            } => create(&subtensor, &wallet, yes).await,
            OwnerSubnetCommand::Hyperparams(args) => hyperparams(&args).await,
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn register(
    subtensor: &SubtensorArgs,
    wallet: &WalletArgs,
    netuid: u16,
    yes: bool,
) -> Result<()> {
    let wallet = wallet.wallet()?;
    let hotkey = wallet.hotkey_account()?;
    let chain = subtensor.connect().await?;
    chain.check_subnet(netuid).await?;
    if let Some(uid) = chain.uid(netuid, &hotkey).await? {
        println!("hotkey {hotkey} is already uid {uid} on subnet {netuid}");
        return Ok(());
    }
    let burn = chain.burn(netuid).await?;
    let payer = wallet.coldkey_account()?;
    let balance = chain.free_balance(&payer).await?;
    println!(
        "registering hotkey {hotkey} on subnet {netuid} of {} burns {} from coldkey {payer} \
         (balance {})",
        chain.url(),
        tao(burn as u128),
        tao(balance)
    );
    confirm(yes)?;
    let coldkey: Keypair = coldkey(&wallet)?;
    let uid = chain.burned_register(&coldkey, netuid, &hotkey).await?;
    println!("registered: uid {uid}");
    Ok(())
}

async fn neurons(subtensor: &SubtensorArgs, netuid: u16, json: bool) -> Result<()> {
    let chain = subtensor.connect().await?;
    chain.check_subnet(netuid).await?;
    let neurons = chain.neurons(netuid).await?;
    if json {
        let list: Vec<serde_json::Value> = neurons
            .iter()
            .map(|n| {
                serde_json::json!({
                    "uid": n.uid,
                    "hotkey": n.hotkey.to_ss58(),
                    "coldkey": n.coldkey.to_ss58(),
                    "incentive": n.incentive,
                    "dividends": n.dividends,
                    "validator_permit": n.validator_permit,
                    "emission": n.emission,
                    "last_update": n.last_update,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    println!("uid  hotkey                                            incentive  permit  emission");
    for n in &neurons {
        println!(
            "{:>3}  {:<48}  {:>9}  {:>6}  {}",
            n.uid, n.hotkey, n.incentive, n.validator_permit, n.emission
        );
    }
    Ok(())
}

async fn create(subtensor: &SubtensorArgs, wallet: &WalletArgs, yes: bool) -> Result<()> {
    let wallet = wallet.wallet()?;
    let hotkey = wallet.hotkey_account()?;
    let payer = wallet.coldkey_account()?;
    let chain = subtensor.connect().await?;
    let lock = chain.network_lock_cost().await?;
    let balance = chain.free_balance(&payer).await?;
    println!(
        "creating a subnet on {} locks {} from coldkey {payer} (balance {}); owner hotkey {hotkey}",
        chain.url(),
        tao(lock),
        tao(balance)
    );
    if balance < lock {
        bail!(
            "not enough balance to create a subnet: {payer} has {}, the lock is {}; fund the \
             coldkey",
            tao(balance),
            tao(lock)
        );
    }
    confirm(yes)?;
    let coldkey = coldkey(&wallet)?;
    let netuid = chain
        .register_network(&coldkey, &hotkey, Mechanism::Dynamic)
        .await?;
    println!("created subnet {netuid}");
    Ok(())
}

/// Sets the hyperparameters asked for, one call each (a refusal stops there, and says which
/// were set), then shows them all as the chain has them.
async fn hyperparams(args: &HyperparamsArgs) -> Result<()> {
    let endpoint = args.subtensor.required_endpoint()?;
    let view = SubtensorChain::connect(&endpoint, args.netuid, Timeouts::default()).await?;
    let changes = args.changes();
    if !changes.is_empty() {
        let chain = view.client();
        let owner = coldkey(&args.wallet.wallet()?)?;
        for change in changes {
            chain
                .set_hyperparam(&owner, args.netuid, change)
                .await
                .with_context(|| format!("setting {change:?} on subnet {}", args.netuid))?;
            println!("set {change:?}");
        }
    }
    let params = view.params().await?;
    let sealed = view.commit_reveal_enabled().await?;
    println!(
        "subnet {}: tempo {}, weights rate limit {}, weights version key {}, immunity period {}, \
         activity cutoff {}, max uids {}, commit-reveal {}, block time {} ms",
        params.netuid,
        params.tempo,
        params.weights_rate_limit,
        params.weights_version_key,
        params.immunity_period,
        params.activity_cutoff,
        params.max_uids,
        if sealed { "on" } else { "off" },
        params.block_time_ms
    );
    Ok(())
}

/// Asks before paying, unless `yes`; without a terminal to ask on, refuses.
fn confirm(yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("nothing paid: pass --yes to pay without being asked");
    }
    print!("pay? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("nothing paid");
    }
    Ok(())
}
