//! `gradient chain`: create, serve, inspect and administer an embedded chain.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use gradient_chain::{AccountId, EmbeddedChain, LocalChain, SubnetParams, connect_embedded, serve};

use crate::wallet::WalletArgs;

#[derive(Subcommand)]
pub enum ChainCommand {
    /// Create an embedded chain (one SQLite file) with devnet parameters.
    Init {
        #[arg(long, env = "GRADIENT_CHAIN_DB")]
        db: PathBuf,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Serve an embedded chain over HTTP/JSON for nodes on other hosts (creates it if missing).
    Serve {
        #[arg(long, env = "GRADIENT_CHAIN_LISTEN", default_value = "127.0.0.1:9944")]
        listen: String,
        #[arg(long, env = "GRADIENT_CHAIN_DB")]
        db: PathBuf,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Set a hotkey's stake on an embedded chain (devnets have no staking).
    Stake {
        #[arg(long, env = "GRADIENT_CHAIN_DB")]
        db: PathBuf,
        /// The hotkey's SS58 address.
        #[arg(long)]
        hotkey: AccountId,
        /// Stake in TAO.
        #[arg(long)]
        tao: f64,
    },
    /// Register a wallet's hotkey under its coldkey.
    Register {
        /// The chain: `http://HOST:PORT` or an embedded chain's file.
        #[arg(long, env = "GRADIENT_CHAIN")]
        chain: String,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Print the metagraph.
    Metagraph {
        /// The chain: `http://HOST:PORT` or an embedded chain's file.
        #[arg(long, env = "GRADIENT_CHAIN")]
        chain: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Parameters of a new embedded chain; the rest are subtensor's defaults.
#[derive(clap::Args)]
pub struct ParamArgs {
    /// Milliseconds per block (Bittensor: 12000).
    #[arg(long, env = "GRADIENT_BLOCK_TIME_MS", default_value_t = 1000)]
    block_time_ms: u64,
    /// Blocks between epochs (Bittensor: 360).
    #[arg(long, env = "GRADIENT_TEMPO", default_value_t = 10)]
    tempo: u64,
    /// Blocks between two weight settings of one validator (Bittensor: 100).
    #[arg(long, env = "GRADIENT_WEIGHTS_RATE_LIMIT", default_value_t = 5)]
    weights_rate_limit: u64,
    #[arg(long, env = "GRADIENT_MAX_UIDS", default_value_t = 256)]
    max_uids: u16,
}

impl ParamArgs {
    fn params(&self) -> SubnetParams {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        SubnetParams {
            block_time_ms: self.block_time_ms,
            tempo: self.tempo,
            weights_rate_limit: self.weights_rate_limit,
            max_uids: self.max_uids,
            ..SubnetParams::devnet(now)
        }
    }
}

pub fn run(command: ChainCommand) -> Result<()> {
    match command {
        ChainCommand::Init { db, params } => {
            if db.exists() {
                anyhow::bail!(
                    "{} already exists; remove it to start a new chain",
                    db.display()
                );
            }
            let chain = LocalChain::open_or_create(&db, &params.params())?;
            println!("created chain {} at {}", chain.chain_id()?, db.display());
            Ok(())
        }
        ChainCommand::Serve { listen, db, params } => {
            let chain = Arc::new(LocalChain::open_or_create(&db, &params.params())?);
            let server = serve(chain.clone(), &listen)?;
            println!(
                "serving chain {} ({}) on {}",
                chain.chain_id()?,
                db.display(),
                server.url()
            );
            server.join();
            Ok(())
        }
        ChainCommand::Stake { db, hotkey, tao } => {
            if !tao.is_finite() || tao < 0.0 {
                anyhow::bail!("--tao must be a non-negative number, not {tao}");
            }
            let chain = LocalChain::open(&db)?;
            chain.set_stake(&hotkey, (tao * 1e9).round() as u64)?;
            println!("{hotkey} now stakes {tao} TAO; it counts from the next epoch");
            Ok(())
        }
        ChainCommand::Register { chain, wallet } => {
            let chain = connect_embedded(&chain)?;
            let wallet = wallet.wallet()?;
            let hotkey = wallet.hotkey()?;
            let coldkey = wallet.coldkey_account()?;
            let uid = chain
                .register(&hotkey, coldkey)
                .with_context(|| format!("registering {}", hotkey.account()))?;
            println!("{} is uid {uid}", hotkey.account());
            Ok(())
        }
        ChainCommand::Metagraph { chain, json } => {
            let graph = connect_embedded(&chain)?.metagraph()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&graph)?);
                return Ok(());
            }
            println!("netuid {} block {}", graph.netuid, graph.head.block);
            println!(
                "{:>4} {:<48} {:>14} {:>2} {:>6} {:>6} {:>6} {:>14}",
                "uid", "hotkey", "stake (TAO)", "vp", "cons", "incent", "divs", "emission (rao)"
            );
            for n in &graph.neurons {
                println!(
                    "{:>4} {:<48} {:>14.3} {:>2} {:>6.4} {:>6.4} {:>6.4} {:>14}",
                    n.uid,
                    n.hotkey.to_ss58(),
                    n.stake as f64 / 1e9,
                    if n.validator_permit { "*" } else { "" },
                    n.consensus as f64 / 65535.0,
                    n.incentive as f64 / 65535.0,
                    n.dividends as f64 / 65535.0,
                    n.emission
                );
            }
            Ok(())
        }
    }
}
