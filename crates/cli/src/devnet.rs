//! `gradient devnet`: a whole network on one machine, with nothing to set up. An embedded chain
//! (SQLite), a file store per node, the bundled corpus and the tiny model; an owner, a validator
//! and miners as separate processes that talk only through the stores and the chain. It prints a
//! table as windows are judged and writes `report.json` at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::Args;
use gradient_chain::{AccountId, Chain, Keypair, LocalChain, SubnetParams, Wallet};
use gradient_protocol::RunConfig;
use gradient_store::{Location, Store, StoreConfig};

#[derive(Args)]
pub struct DevnetArgs {
    /// Where the devnet keeps its chain, stores, wallets and report.
    #[arg(long, default_value = "devnet", env = "GRADIENT_DEVNET_DIR")]
    dir: PathBuf,
    /// Honest miners.
    #[arg(long, default_value_t = 3, env = "GRADIENT_DEVNET_MINERS")]
    miners: usize,
    /// Windows to run.
    #[arg(long, default_value_t = 6, env = "GRADIENT_DEVNET_WINDOWS")]
    windows: u64,
    /// Hostile miners to add, one of each kind named: noise, lazy, copy, stale, late, garbage,
    /// replay.
    #[arg(long, value_delimiter = ',', env = "GRADIENT_DEVNET_ADVERSARIES")]
    adversaries: Vec<String>,
    /// Seconds per block.
    #[arg(long, default_value_t = 1.0, env = "GRADIENT_DEVNET_BLOCK_SECONDS")]
    block_seconds: f64,
}

/// Marks a directory as a devnet's, so a rerun may clear it and nothing else.
const MARKER: &str = "devnet.json";

struct Node {
    name: String,
    hotkey: AccountId,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(args: DevnetArgs) -> Result<()> {
    if args.miners == 0 || args.windows == 0 {
        bail!("--miners and --windows must be positive");
    }
    let dir = prepare_dir(&args.dir)?;
    let wallets = dir.join("wallets");
    let wallet = |hotkey: &str| -> Result<Keypair> {
        let w = Wallet::new(&wallets, "devnet", hotkey)?;
        if w.coldkey_account().is_err() {
            w.create_coldkey(None, true)?;
        }
        Ok(w.create_hotkey(true)?.0)
    };
    let owner = wallet("owner")?;
    let validator = wallet("validator")?;
    for kind in &args.adversaries {
        kind.parse::<gradient_node::miner_node::Behaviour>()
            .map_err(anyhow::Error::msg)?;
    }
    let mut miners: Vec<(String, Keypair, String)> = (1..=args.miners)
        .map(|i| {
            let name = format!("miner-{i}");
            Ok((name.clone(), wallet(&name)?, "honest".to_string()))
        })
        .collect::<Result<_>>()?;
    for kind in &args.adversaries {
        let name = format!("adv-{kind}");
        miners.push((name.clone(), wallet(&name)?, kind.clone()));
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let params = SubnetParams {
        block_time_ms: (args.block_seconds * 1000.0).round().max(1.0) as u64,
        tempo: 10,
        weights_rate_limit: 5,
        ..SubnetParams::devnet(now)
    };
    let chain_path = dir.join("chain.sqlite");
    let chain = LocalChain::open_or_create(&chain_path, &params)?;
    chain.set_stake(&validator.account(), 1_000 * 1_000_000_000)?;

    let run = RunConfig::devnet(chain.head()?.block + 12);
    let owner_url = format!("file://{}", dir.join("owner").display());
    let owner_store = Store::open(
        &Location::parse(&owner_url, &Default::default())?,
        StoreConfig::default(),
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    eprintln!("publishing the run and its genesis master");
    runtime.block_on(gradient_node::owner::init(&owner_store, &run, &owner))?;
    let last_window = args.windows - 1;
    println!(
        "devnet in {}: chain {}, {} miners ({} hostile), 1 validator, {} windows of {} blocks",
        dir.display(),
        chain_path.display(),
        miners.len(),
        args.adversaries.len(),
        args.windows,
        run.windows.blocks_per_window
    );

    let exe = std::env::current_exe()?;
    let spawn = |role: &str, name: &str, key: &Keypair, behaviour: &str| -> Result<Node> {
        let mut cmd = Command::new(&exe);
        cmd.args(["--log-format", "json", role])
            .arg("--wallet.path")
            .arg(&wallets)
            .args(["--wallet.name", "devnet", "--wallet.hotkey", name])
            .arg("--store")
            .arg(format!(
                "file://{}",
                dir.join("buckets").join(name).display()
            ))
            .arg("--chain")
            .arg(&chain_path)
            .args([
                "--run",
                &owner_url,
                "--run.owner",
                &owner.account().to_ss58(),
            ])
            .arg("--state")
            .arg(dir.join("state").join(name))
            .args(["--last-window", &last_window.to_string()])
            .args(if role == "miner" {
                vec!["--behaviour", behaviour]
            } else {
                vec![]
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(
                dir.join(format!("{name}.log")),
            )?));
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Node {
            name: name.to_string(),
            hotkey: key.account(),
            child,
        })
    };
    let mut nodes = vec![spawn("validator", "validator", &validator, "")?];
    for (name, key, behaviour) in &miners {
        nodes.push(spawn("miner", name, key, behaviour)?);
    }

    let windows: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let uploaded: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let names: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| (n.hotkey.to_ss58(), n.name.clone()))
        .collect();
    let mut readers = Vec::new();
    for node in &mut nodes {
        let stdout = node.child.stdout.take().expect("piped");
        let name = node.name.clone();
        let windows = windows.clone();
        let uploaded = uploaded.clone();
        let names = names.clone();
        let chain_path = chain_path.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                match event["event"].as_str() {
                    Some("window") => {
                        // Weights and incentive as the chain has them now.
                        let incentive: BTreeMap<String, (f64, f64)> = LocalChain::open(&chain_path)
                            .and_then(|c| c.metagraph())
                            .map(|g| {
                                let weights: BTreeMap<u16, f64> = g
                                    .neurons
                                    .iter()
                                    .filter(|n| n.validator_permit)
                                    .flat_map(|n| n.weights.clone())
                                    .map(|(uid, w)| (uid, w as f64))
                                    .collect();
                                let total: f64 = weights.values().sum();
                                g.neurons
                                    .iter()
                                    .map(|n| {
                                        let w = weights.get(&n.uid).copied().unwrap_or(0.0);
                                        (
                                            n.hotkey.to_ss58(),
                                            (w / total.max(1.0), n.incentive as f64 / 65535.0),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        print_window(&event["summary"], &names, &incentive);
                        windows.lock().unwrap().push(event["summary"].clone());
                    }
                    Some("submitted") => {
                        *uploaded.lock().unwrap().entry(name.clone()).or_default() +=
                            event["bytes"].as_u64().unwrap_or(0);
                    }
                    _ => {}
                }
            }
        }));
    }
    let status = nodes[0].child.wait()?;
    if !status.success() {
        bail!(
            "the validator stopped: {status}; see {}",
            dir.join("validator.log").display()
        );
    }
    drop(nodes);
    for reader in readers {
        let _ = reader.join();
    }

    let graph = chain.metagraph()?;
    let windows = windows.lock().unwrap().clone();
    let uploaded = uploaded.lock().unwrap().clone();
    let miners_report: Vec<serde_json::Value> = graph
        .neurons
        .iter()
        .map(|n| {
            let name = names.get(&n.hotkey.to_ss58()).cloned().unwrap_or_default();
            serde_json::json!({
                "name": name, "uid": n.uid, "hotkey": n.hotkey,
                "incentive": n.incentive as f64 / 65535.0,
                "dividends": n.dividends as f64 / 65535.0,
                "emission_rao": n.total_emission,
                "bytes_uploaded": uploaded.get(&name).copied().unwrap_or(0),
            })
        })
        .collect();
    let downloaded: u64 = windows
        .iter()
        .flat_map(|w| w["miners"].as_array().cloned().unwrap_or_default())
        .map(|m| m["bytes"].as_u64().unwrap_or(0))
        .sum();
    let losses: Vec<f64> = windows
        .iter()
        .filter_map(|w| w["master_loss"].as_f64())
        .collect();
    let incentive = |prefix: &str| -> f64 {
        miners_report
            .iter()
            .filter(|n| n["name"].as_str().is_some_and(|s| s.starts_with(prefix)))
            .map(|n| n["incentive"].as_f64().unwrap_or(0.0))
            .sum()
    };
    let (honest, hostile) = (incentive("miner-"), incentive("adv-"));
    println!(
        "incentive: honest miners {:.1}%, hostile miners {:.1}%",
        100.0 * honest / (honest + hostile).max(1e-12),
        100.0 * hostile / (honest + hostile).max(1e-12)
    );
    let report = serde_json::json!({
        "honest_incentive_share": honest / (honest + hostile).max(1e-12),
        "windows": windows,
        "master_loss": losses,
        "neurons": miners_report,
        "bytes_downloaded_by_validator": downloaded,
    });
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    println!("\nreport: {}", path.display());
    Ok(())
}

fn print_window(
    summary: &serde_json::Value,
    names: &BTreeMap<String, String>,
    chain: &BTreeMap<String, (f64, f64)>,
) {
    println!(
        "window {:>3}  master loss {:.4}  judged in {:.1}s",
        summary["window"].as_u64().unwrap_or(0),
        summary["master_loss"].as_f64().unwrap_or(f64::NAN),
        summary["judge_seconds"].as_f64().unwrap_or(0.0)
    );
    for m in summary["miners"].as_array().cloned().unwrap_or_default() {
        let hotkey = m["hotkey"].as_str().unwrap_or("");
        let name = names.get(hotkey).map_or(hotkey, String::as_str);
        let verdict = if m["rejection"].is_null() {
            format!(
                "score {:.4}{}",
                m["score"].as_f64().unwrap_or(0.0),
                if m["aggregated"] == true {
                    "  aggregated"
                } else {
                    ""
                }
            )
        } else {
            format!("rejected {}", m["rejection"])
        };
        let (weight, incentive) = chain.get(hotkey).copied().unwrap_or((0.0, 0.0));
        println!("    {name:<12} weight {weight:.3}  incentive {incentive:.3}  {verdict}");
    }
}

/// Creates the devnet directory, clearing a previous devnet's (and only a devnet's).
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            bail!(
                "{} exists and is not a devnet directory; choose another --dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), b"{\"gradient\": \"devnet\"}\n")?;
    Ok(std::path::absolute(dir)?)
}
