//! `gradient owner init`, `gradient miner` and `gradient validator`: the network's nodes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gradient_adversary::{HostileMiner, Kind};
use gradient_chain::{AccountId, Chain, connect};
use gradient_model::parse_device;
use gradient_node::miner_node::{MinerEvent, MinerNode, OnEvent};
use gradient_node::peer::Synced;
use gradient_node::validator_node::{ValidatorNode, WindowSummary};
use gradient_node::{Peer, RunContext, owner};
use gradient_protocol::RunConfig;
use gradient_store::{BucketCommitment, Location, Reach, S3Credentials, Store, StoreConfig};
use gradient_subtensor::{SubtensorChain, Timeouts};

use crate::LogFormat;
use crate::subnet::SubtensorArgs;
use crate::wallet::WalletArgs;

#[derive(Subcommand)]
pub enum OwnerCommand {
    /// Publish a run config and its genesis master, signed by the owner's hotkey.
    Init(OwnerInitArgs),
    /// The owner's subnet on a real subtensor chain.
    #[command(subcommand)]
    Subnet(crate::subnet::OwnerSubnetCommand),
}

#[derive(Args)]
pub struct OwnerInitArgs {
    /// The run config (TOML); `devnet` for the built-in devnet run.
    #[arg(long, env = "GRADIENT_RUN_CONFIG")]
    run: String,
    /// Where to publish: file:///path or s3://bucket/prefix.
    #[arg(long, env = "GRADIENT_STORE")]
    store: String,
    /// With a chain, the run starts this many blocks after its current head.
    #[arg(long, env = "GRADIENT_CHAIN")]
    chain: Option<String>,
    /// Or the subnet on subtensor whose head the run starts after.
    #[command(flatten)]
    subtensor: SubtensorArgs,
    #[arg(long, env = "GRADIENT_NETUID")]
    netuid: Option<u16>,
    #[arg(long, default_value_t = 5, env = "GRADIENT_START_IN_BLOCKS")]
    start_in_blocks: u64,
    #[command(flatten)]
    wallet: WalletArgs,
}

/// What miners and validators share.
#[derive(Args, Clone)]
pub struct NodeArgs {
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// This node's own bucket: file:///path or s3://bucket/prefix (credentials from AWS_*).
    #[arg(long, env = "GRADIENT_STORE")]
    pub store: String,
    /// The embedded chain: http://HOST:PORT or its SQLite file. Not with --subtensor.*.
    #[arg(long, env = "GRADIENT_CHAIN")]
    pub chain: Option<String>,
    /// Or subtensor: --subtensor.network / --subtensor.chain_endpoint, with --netuid.
    #[command(flatten)]
    pub subtensor: SubtensorArgs,
    /// The subnet, on subtensor.
    #[arg(long, env = "GRADIENT_NETUID")]
    pub netuid: Option<u16>,
    /// The owner's store, where the run is published.
    #[arg(long, env = "GRADIENT_RUN")]
    pub run: String,
    /// The owner's hotkey that signed the run.
    #[arg(long = "run.owner", env = "GRADIENT_RUN_OWNER")]
    pub owner: AccountId,
    /// Read-only S3 key id to publish on chain for this bucket (default: the write key).
    #[arg(long, env = "GRADIENT_READ_ACCESS_KEY_ID")]
    pub read_access_key_id: Option<String>,
    #[arg(long, env = "GRADIENT_READ_SECRET_ACCESS_KEY")]
    pub read_secret_access_key: Option<String>,
    /// `cpu`, `cuda:N` (a binary built with `--features cuda`) or `auto` (the first GPU, else
    /// the CPU).
    #[arg(long, default_value = "cpu", env = "GRADIENT_DEVICE")]
    pub device: String,
    /// Where progress and error-feedback state are kept [default: ~/.cache/gradient/state/…].
    #[arg(long, env = "GRADIENT_STATE")]
    pub state: Option<PathBuf>,
    /// Stop after this window.
    #[arg(long, env = "GRADIENT_LAST_WINDOW")]
    pub last_window: Option<u64>,
    /// Follow other nodes' `file://` commitments and plain-http or private-address endpoints:
    /// only for a devnet on one machine or LAN. Without it such commitments are refused and
    /// nothing is opened or created for them.
    #[arg(long, env = "GRADIENT_LOCAL_NETWORK")]
    pub local_network: bool,
    /// Miners only: run one of the hostile miners of `gradient_adversary` instead (noise,
    /// lazy, copy, stale, late, garbage, replay, inflate, mix, echo, elsewhere, resign,
    /// previous), to test validators.
    #[arg(
        long,
        default_value = "honest",
        env = "GRADIENT_BEHAVIOUR",
        hide = true
    )]
    pub behaviour: String,
}

fn open_store(url: &str) -> Result<(Location, Store)> {
    let location = Location::parse(url, &S3Credentials::from_env())?;
    let store = Store::open(&location, StoreConfig::default())?;
    Ok((location, store))
}

/// The chain the flags name: the embedded one (`--chain`) or a subnet of subtensor
/// (`--subtensor.network` or `--subtensor.chain_endpoint`, with `--netuid`).
pub async fn open_chain(
    embedded: Option<&str>,
    subtensor: &SubtensorArgs,
    netuid: Option<u16>,
) -> Result<Arc<dyn Chain>> {
    match (embedded, subtensor.endpoint()?, netuid) {
        (Some(_), Some(_), _) => anyhow::bail!(
            "both --chain and --subtensor.* name a chain: give the embedded chain or subtensor, \
             not both"
        ),
        (Some(spec), None, _) => Ok(Arc::from(connect(spec)?)),
        (None, Some(endpoint), Some(netuid)) => {
            let chain = SubtensorChain::connect(&endpoint, netuid, Timeouts::default()).await?;
            Ok(Arc::new(chain))
        }
        (None, Some(_), None) => anyhow::bail!("--netuid is required on subtensor"),
        (None, None, _) => anyhow::bail!(
            "no chain given: pass --chain (an embedded chain's file or http://HOST:PORT), or \
             --subtensor.network finney|test|local or --subtensor.chain_endpoint ws://HOST:PORT \
             with --netuid"
        ),
    }
}

async fn join(args: &NodeArgs, role: &str) -> Result<Peer> {
    let wallet = args.wallet.wallet()?;
    let key = wallet.hotkey()?;
    let coldkey = wallet.coldkey_account()?;
    let device = parse_device(&args.device)?;
    tracing::info!(device = %gradient_model::describe(&device), "{role} computes on this device");
    let chain = open_chain(args.chain.as_deref(), &args.subtensor, args.netuid).await?;
    let (location, store) = open_store(&args.store)?;
    let mut read = S3Credentials::from_env();
    if let Some(id) = &args.read_access_key_id {
        read.access_key_id = Some(id.clone());
        read.secret_access_key = args.read_secret_access_key.clone();
    }
    let commitment = BucketCommitment::of(&location, &read)?.encode()?;
    let (_, owner_store) = open_store(&args.run)?;
    let run = owner::load_run(&owner_store, Some(args.owner))
        .await
        .with_context(|| format!("reading the run from {}", args.run))?;
    let ctx = Arc::new(tokio::task::block_in_place(|| {
        RunContext::new(run, device)
    })?);
    let state = args.state.clone().unwrap_or_else(|| {
        gradient_data::bundled::cache_dir()
            .join("state")
            .join(format!("{role}-{}", key.account()))
    });
    Ok(Peer {
        ctx,
        key,
        coldkey,
        chain,
        store,
        commitment,
        owner_store,
        owner: args.owner,
        state_dir: state,
        last_window: args.last_window,
        reach: if args.local_network {
            Reach::Local
        } else {
            Reach::Public
        },
    })
}

pub fn owner(command: OwnerCommand) -> Result<()> {
    let args = match command {
        OwnerCommand::Subnet(command) => return crate::subnet::run_owner(command),
        OwnerCommand::Init(args) => args,
    };
    let OwnerInitArgs {
        run,
        store,
        chain,
        subtensor,
        netuid,
        start_in_blocks,
        wallet,
    } = args;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut config = if run == "devnet" {
        RunConfig::devnet(0)
    } else {
        let text = std::fs::read_to_string(&run).with_context(|| format!("reading {run}"))?;
        RunConfig::from_toml(&text).with_context(|| format!("in {run}"))?
    };
    if chain.is_some() || subtensor.endpoint()?.is_some() {
        let chain = runtime.block_on(open_chain(chain.as_deref(), &subtensor, netuid))?;
        config.windows.genesis_block = runtime.block_on(chain.head())?.block + start_in_blocks;
    }
    let key = wallet.wallet()?.hotkey()?;
    let (_, store) = open_store(&store)?;
    let id = runtime.block_on(owner::init(&store, &config, &key))?;
    println!(
        "published run {} (genesis block {}) signed by {}",
        hex::encode(id),
        config.windows.genesis_block,
        key.account()
    );
    Ok(())
}

pub fn miner(args: NodeArgs, format: LogFormat) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let hostile = match args.behaviour.as_str() {
            "honest" => None,
            kind => Some(kind.parse::<Kind>().map_err(anyhow::Error::msg)?),
        };
        let peer = join(&args, "miner").await?;
        let name = peer.key.account().to_ss58();
        let bar = Mutex::new(None::<ProgressBar>);
        let on_event: OnEvent = Arc::new(move |event| report_miner(format, &name, &bar, &event));
        match hostile {
            None => MinerNode { peer }.run(on_event).await?,
            Some(kind) => HostileMiner { peer, kind }.run(on_event).await?,
        }
        Ok(())
    })
}

/// Prints a miner's events: JSON lines, or text with a progress bar per window (the window's
/// time, since the window's end, not a step count, stops training).
fn report_miner(
    format: LogFormat,
    name: &str,
    bar: &Mutex<Option<ProgressBar>>,
    event: &MinerEvent,
) {
    if format == LogFormat::Json {
        let value = match event {
            MinerEvent::Registered { uid } => {
                serde_json::json!({"event": "registered", "uid": uid})
            }
            MinerEvent::Training {
                window,
                base,
                synced,
                eager,
                seconds,
            } => serde_json::json!({
                "event": "training", "window": window, "base_master": base, "seconds": seconds,
                "synced": format!("{synced:?}").to_lowercase(), "eager": eager,
            }),
            // Too many for a log; the submission carries the totals.
            MinerEvent::Step { .. } => return,
            MinerEvent::Submitted {
                window,
                bytes,
                report,
                compress_seconds,
                upload_seconds,
                utilisation,
            } => serde_json::json!({
                "event": "submitted", "window": window, "bytes": bytes, "steps": report.steps,
                "tokens": report.tokens, "seconds": report.seconds,
                "first_loss": report.first_loss, "last_loss": report.last_loss,
                "compress_seconds": compress_seconds, "upload_seconds": upload_seconds,
                "utilisation": utilisation, "rebased_at": report.rebased_at,
            }),
            MinerEvent::Skipped { window, why } => {
                serde_json::json!({"event": "skipped", "window": window, "why": why})
            }
        };
        println!("{value}");
        return;
    }
    let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
    let say = |bar: &Option<ProgressBar>, line: String| match bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    match event {
        MinerEvent::Registered { uid } => println!("miner {name}: uid {uid}"),
        MinerEvent::Training {
            window,
            base,
            synced,
            eager,
            seconds,
        } => {
            if let Some(old) = bar.take() {
                old.finish();
            }
            let b = ProgressBar::new((seconds * 10.0).round().max(1.0) as u64).with_style(
                ProgressStyle::with_template("window {prefix} [{elapsed_precise}] {bar:30} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let how = match synced {
                Synced::Held => "held",
                Synced::Replayed => "replayed",
                Synced::Downloaded => "downloaded",
            };
            let eager = if *eager { " + own last delta" } else { "" };
            b.set_prefix(format!("{window} (from master {base}, {how}{eager})"));
            *bar = Some(b);
        }
        MinerEvent::Step {
            report,
            seconds_left,
            ..
        } => {
            if let Some(b) = bar.as_ref() {
                let total = b.length().unwrap_or(1);
                b.set_position(total.saturating_sub((seconds_left * 10.0).round() as u64));
                b.set_message(format!(
                    "step {} loss {:.3} ({:.0} tok/s)",
                    report.steps,
                    report.last_loss,
                    report.tokens as f64 / report.seconds.max(1e-9)
                ));
            }
        }
        MinerEvent::Submitted {
            window,
            bytes,
            report,
            compress_seconds,
            upload_seconds,
            utilisation,
        } => {
            let moved = report.rebased_at.map_or(String::new(), |step| {
                format!(", onto master {window} after step {step}")
            });
            say(
                &bar,
                format!(
                    "window {window}: loss {:.3} -> {:.3} in {} steps ({:.1}s{moved}), submitted {} KB (compressed in {compress_seconds:.1}s, uploaded in {upload_seconds:.1}s); busy {:.0}% of the time",
                    report.first_loss,
                    report.last_loss,
                    report.steps,
                    report.seconds,
                    bytes / 1024,
                    utilisation * 100.0
                ),
            )
        }
        MinerEvent::Skipped { window, why } => {
            say(&bar, format!("window {window}: skipped: {why}"))
        }
    }
}

pub fn validator(args: NodeArgs, format: LogFormat) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let node = ValidatorNode::new(join(&args, "validator").await?)?;
        node.run(&|summary| report_window(format, summary)).await?;
        Ok(())
    })
}

fn report_window(format: LogFormat, summary: &WindowSummary) {
    match format {
        LogFormat::Json => println!(
            "{}",
            serde_json::json!({"event": "window", "summary": summary})
        ),
        LogFormat::Text => {
            println!(
                "window {}: master loss {:.4}, judged {} submissions in {:.1}s",
                summary.window,
                summary.master_loss,
                summary.miners.len(),
                summary.judge_seconds
            );
            for m in &summary.miners {
                let verdict = match &m.rejection {
                    Some(r) => format!("rejected: {r:?}"),
                    None => format!(
                        "score {:.4}{}",
                        m.score,
                        if m.aggregated { " (aggregated)" } else { "" }
                    ),
                };
                println!("  uid {:>3} {} {verdict}", m.uid, m.hotkey);
            }
        }
    }
}
