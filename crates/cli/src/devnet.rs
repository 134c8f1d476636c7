//! `gradient devnet`: a whole network on one machine, with nothing to set up. An embedded chain
//! (SQLite), a file store per node, the bundled corpus and the tiny model; an owner, a validator
//! and miners as separate processes that talk only through the stores and the chain. It prints a
//! table as windows are judged and writes `report.json` and `report.png` at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::Args;
use gradient_chain::{Keypair, Wallet};
use gradient_protocol::RunConfig;
use gradient_store::{Location, Store, StoreConfig};

use crate::devnet_chain::{DevChain, Members};

#[derive(Args)]
pub struct DevnetArgs {
    /// Where the devnet keeps its chain, stores, wallets and report.
    #[arg(long, default_value = "devnet", env = "GRADIENT_DEVNET_DIR")]
    dir: PathBuf,
    /// Honest miners.
    #[arg(long, default_value_t = 3, env = "GRADIENT_DEVNET_MINERS")]
    miners: usize,
    /// Windows to run.
    #[arg(long, default_value_t = 5, env = "GRADIENT_DEVNET_WINDOWS")]
    windows: u64,
    /// Hostile miners to add, one of each kind named: noise, lazy, copy, stale, late, garbage,
    /// replay, inflate, mix, echo, elsewhere, resign, previous (`all` for every kind).
    #[arg(long, value_delimiter = ',', env = "GRADIENT_DEVNET_ADVERSARIES")]
    adversaries: Vec<String>,
    /// Blocks per window. Judging a window takes the validator a fixed time (about 20 s of
    /// two loaded cores for three miners) while the miners train on what is left: longer
    /// windows give training the larger share. Miners get two pages for every three blocks;
    /// windows of 40 blocks or more judge six of each miner's pages, shorter ones four.
    #[arg(long, default_value_t = 44, env = "GRADIENT_DEVNET_BLOCKS_PER_WINDOW")]
    blocks_per_window: u64,
    /// The run's seed: which pages each miner trains in each window. Two devnets with the same
    /// seed assign the same pages (the miners' keys come from their names).
    #[arg(long, default_value_t = 42, env = "GRADIENT_DEVNET_SEED")]
    seed: u64,
    /// Seconds per block.
    #[arg(long, default_value_t = 1.0, env = "GRADIENT_DEVNET_BLOCK_SECONDS")]
    block_seconds: f64,
    /// At most this many inner steps per miner and window (by default the window's time is the
    /// only limit). With a cap that fits the window, honest deltas depend only on the master,
    /// so two devnets can be compared exactly.
    #[arg(long, env = "GRADIENT_DEVNET_INNER_STEPS")]
    inner_steps: Option<u64>,
    /// Where nodes keep their buckets: a directory (the default, under --dir) or
    /// s3://bucket/prefix on an S3-compatible server (credentials from AWS_*; each node gets
    /// its own prefix).
    #[arg(long, env = "GRADIENT_DEVNET_STORE")]
    store: Option<String>,
    /// Compute threads of each training miner [default: the machine's cores shared among
    /// them, at least one]; the validator gets every core. Processes that each start a thread
    /// per core oversubscribe the machine and every step slows down.
    #[arg(long, env = "GRADIENT_DEVNET_MINER_THREADS")]
    miner_threads: Option<usize>,
    /// `embedded` (a SQLite chain in --dir) or `subtensor`: a new subnet on the development
    /// chain --subtensor.chain_endpoint names (//Alice its sudo key, as on chopsticks or a
    /// subtensor localnet), at that chain's own block time.
    #[arg(long, default_value = "embedded", value_parser = ["embedded", "subtensor"], env = "GRADIENT_DEVNET_CHAIN")]
    chain: String,
    #[command(flatten)]
    subtensor: crate::subnet::SubtensorArgs,
    /// Where every node trains and judges: `cpu`, `cuda:N` (a binary built with `--features
    /// cuda`; the nodes share that GPU) or `auto`.
    #[arg(long, default_value = "cpu", env = "GRADIENT_DEVICE")]
    device: String,
    /// SIGKILL the validator and the first miner in the middle of window 1 and restart them.
    #[arg(long, hide = true)]
    chaos: bool,
}

/// Marks a directory as a devnet's, so a rerun may clear it and nothing else.
const MARKER: &str = "devnet.json";

/// What a miner reported uploading.
#[derive(Clone, Default)]
struct Uploads {
    bytes: u64,
    steps: u64,
    /// Tokens trained on (predicted targets), over every submitted window.
    tokens: u64,
    /// Training time over wall time since it first trained, as of its last submission.
    utilisation: Option<f64>,
    /// Windows whose training moved onto the newer master once it was published.
    rebased: u64,
}

struct Node {
    name: String,
    role: String,
    behaviour: String,
    key: Keypair,
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Each neuron's (weight from the validators, incentive) as the chain has them now. Subtensor's
/// metagraph leaves weights out, so there every weight reads 0.
fn chain_view(chain: &DevChain) -> BTreeMap<String, (f64, f64)> {
    chain
        .metagraph()
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
        .unwrap_or_default()
}

/// Compute threads per node process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Threads {
    miner: usize,
    validator: usize,
}

impl Threads {
    /// Training miners (honest and stale ones; the other adversaries do no work) share the
    /// cores; the validator judges between windows, when it needs them all, and the miners
    /// run at a lower priority.
    fn share(cores: usize, miners: &[(String, Keypair, String)], per_miner: Option<usize>) -> Self {
        let training = miners
            .iter()
            .filter(|(_, _, behaviour)| {
                behaviour == "honest"
                    || behaviour
                        .parse::<gradient_adversary::Kind>()
                        .is_ok_and(|k| k.trains())
            })
            .count()
            .max(1);
        Threads {
            miner: per_miner.unwrap_or(cores / training).max(1),
            validator: cores.max(1),
        }
    }
}

pub fn run(args: DevnetArgs) -> Result<()> {
    if args.miners == 0 || args.windows == 0 {
        bail!("--miners and --windows must be positive");
    }
    // Said once here rather than by every node process in its log.
    gradient_model::parse_device(&args.device)?;
    let dir = prepare_dir(&args.dir)?;
    let wallets = dir.join("wallets");
    // Well-known keys derived from each node's name, so two devnets assign the same pages to
    // the same miners and can be compared run against run. Never use them on a real chain.
    let wallet = |hotkey: &str| -> Result<Keypair> {
        let w = Wallet::new(&wallets, "devnet", hotkey)?;
        if w.coldkey_account().is_err() {
            w.write_coldkey(&Keypair::dev("devnet coldkey"), None, None, true)?;
        }
        let pair = Keypair::dev(&format!("devnet {hotkey}"));
        w.write_hotkey(&pair, None, true)?;
        Ok(pair)
    };
    let owner = wallet("owner")?;
    let validator = wallet("validator")?;
    let adversaries: Vec<String> = if args.adversaries.iter().any(|k| k == "all") {
        gradient_adversary::Kind::ALL
            .iter()
            .map(|k| k.name().to_string())
            .collect()
    } else {
        args.adversaries.clone()
    };
    for kind in &adversaries {
        kind.parse::<gradient_adversary::Kind>()
            .map_err(anyhow::Error::msg)?;
    }
    let mut miners: Vec<(String, Keypair, String)> = (1..=args.miners)
        .map(|i| {
            let name = format!("miner-{i}");
            Ok((name.clone(), wallet(&name)?, "honest".to_string()))
        })
        .collect::<Result<_>>()?;
    for kind in &adversaries {
        let name = format!("adv-{kind}");
        miners.push((name.clone(), wallet(&name)?, kind.clone()));
    }

    let runtime = tokio::runtime::Runtime::new()?;
    let chain = Arc::new(open_chain(
        &args, &dir, &owner, &validator, &miners, &runtime,
    )?);
    let mut run = RunConfig::devnet(chain.head_block()? + 12);
    run.seed = args.seed;
    if let Some(steps) = args.inner_steps {
        run.miner.inner_steps = steps;
    }
    // About one pass over the window's pages on two cores at one-second blocks (16 pages in
    // 24 blocks): each page is seen once.
    run.windows.blocks_per_window = args.blocks_per_window;
    run.miner.pages_per_window = (args.blocks_per_window as usize * 2).div_ceil(3).max(1);
    // Long windows judge six own pages, not four: a miner reaches them in every window even on
    // a loaded machine (18 to 20 steps a window of 44 blocks with one core kept busy), and
    // they tell an honest delta from chance better (`ScoringSpec::with_own_pages`). Windows
    // of 24 blocks held 10 to 14 steps on a loaded machine: four pages there.
    if args.blocks_per_window >= 40 {
        run.scoring = run.scoring.with_own_pages(6);
    }
    run.validate()
        .map_err(|e| anyhow::anyhow!("--blocks-per-window {}: {e}", args.blocks_per_window))?;
    // A devnet knows how long it runs: the miners anneal their rate over it, as one machine
    // training the same tokens would.
    run.miner.lr_decay_windows = args.windows;
    // Every node's bucket under one root: an S3 prefix or a directory.
    let root = match &args.store {
        Some(url) if url.starts_with("s3://") => url.trim_end_matches('/').to_string(),
        Some(path) => format!("file://{}", std::path::absolute(path)?.display()),
        None => format!("file://{}", dir.join("buckets").display()),
    };
    let bucket = |name: &str| format!("{root}/{name}");
    let owner_url = bucket("owner");
    let owner_store = Store::open(
        &Location::parse(&owner_url, &gradient_store::S3Credentials::from_env())?,
        StoreConfig::default(),
    )?;
    eprintln!("publishing the run and its genesis master");
    runtime.block_on(gradient_node::owner::init(&owner_store, &run, &owner))?;
    let last_window = args.windows - 1;
    println!(
        "devnet in {}: chain {}, {} miners ({} hostile), 1 validator, {} windows of {} blocks",
        dir.display(),
        chain.name,
        miners.len(),
        adversaries.len(),
        args.windows,
        run.windows.blocks_per_window
    );

    let windows: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let uploaded: Arc<Mutex<BTreeMap<String, Uploads>>> = Arc::default();
    let names: BTreeMap<String, String> = std::iter::once(("validator".to_string(), &validator))
        .chain(miners.iter().map(|(name, key, _)| (name.clone(), key)))
        .map(|(name, key)| (key.account().to_ss58(), name))
        .collect();
    let exe = std::env::current_exe()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = Threads::share(cores, &miners, args.miner_threads);
    eprintln!(
        "compute threads: {} per training miner, {} for the validator ({cores} cores)",
        threads.miner, threads.validator
    );
    let spawn = |role: &str, name: &str, key: &Keypair, behaviour: &str| -> Result<Node> {
        let log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{name}.log")))
        };
        let mut cmd = Command::new(&exe);
        cmd.args(["--log-format", "json", role])
            .arg("--wallet.path")
            .arg(&wallets)
            .args(["--wallet.name", "devnet", "--wallet.hotkey", name])
            .arg("--store")
            .arg(bucket(name))
            .args(chain.flags())
            .args([
                "--run",
                &owner_url,
                "--run.owner",
                &owner.account().to_ss58(),
            ])
            .arg("--state")
            .arg(dir.join("state").join(name))
            .args(["--last-window", &last_window.to_string()])
            .args(["--device", &args.device])
            // Every bucket is on this machine (a directory or a local S3 server).
            .arg("--local-network")
            .args(if role == "miner" {
                vec!["--behaviour", behaviour]
            } else {
                vec![]
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log()?));
        cmd.env(
            "RAYON_NUM_THREADS",
            if role == "miner" {
                threads.miner
            } else {
                threads.validator
            }
            .to_string(),
        );
        if role == "miner" {
            // Miners fill every idle cycle (that is their job); on one machine the validator
            // must still judge each window within the next, or everyone waits for masters.
            use std::os::unix::process::CommandExt;
            // SAFETY: setpriority is async-signal-safe and touches only the child.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setpriority(libc::PRIO_PROCESS, 0, 10);
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().expect("piped");
        let name = name.to_string();
        let windows = windows.clone();
        let uploaded = uploaded.clone();
        let names = names.clone();
        let chain = chain.clone();
        // Events go to the node's log too, next to its diagnostics.
        let mut log = log()?;
        let reader = std::thread::spawn({
            let name = name.clone();
            move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = writeln!(log, "{line}");
                    let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    match event["event"].as_str() {
                        Some("window") => {
                            print_window(&event["summary"], &names, &chain_view(&chain));
                            windows.lock().unwrap().push(event["summary"].clone());
                        }
                        Some("submitted") => {
                            let mut uploaded = uploaded.lock().unwrap();
                            let entry = uploaded.entry(name.clone()).or_default();
                            entry.bytes += event["bytes"].as_u64().unwrap_or(0);
                            entry.steps += event["steps"].as_u64().unwrap_or(0);
                            entry.tokens += event["tokens"].as_u64().unwrap_or(0);
                            entry.utilisation = event["utilisation"].as_f64();
                            entry.rebased += u64::from(!event["rebased_at"].is_null());
                        }
                        _ => {}
                    }
                }
            }
        });
        Ok(Node {
            name,
            role: role.to_string(),
            behaviour: behaviour.to_string(),
            key: key.clone(),
            child,
            reader: Some(reader),
        })
    };
    let mut nodes = vec![spawn("validator", "validator", &validator, "")?];
    for (name, key, behaviour) in &miners {
        nodes.push(spawn("miner", name, key, behaviour)?);
    }

    // --chaos: SIGKILL the validator and the first miner in the middle of window 1, then start
    // them again; they must carry on from their saved state.
    let mut chaos_at = args
        .chaos
        .then(|| run.windows.genesis_block + run.windows.blocks_per_window * 3 / 2);
    let status = loop {
        if let Some(status) = nodes[0].child.try_wait()? {
            break status;
        }
        if let Some(block) = chaos_at
            && chain.head_block()? >= block
        {
            chaos_at = None;
            for i in [0, 1] {
                let node = &mut nodes[i];
                node.child.kill()?;
                node.child.wait()?;
                println!(
                    "chaos: killed {} (SIGKILL) at block {block}; restarting it",
                    node.name
                );
                let (role, name, key, behaviour) = (
                    node.role.clone(),
                    node.name.clone(),
                    node.key.clone(),
                    node.behaviour.clone(),
                );
                let old = std::mem::replace(node, spawn(&role, &name, &key, &behaviour)?);
                drop(old);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    if !status.success() {
        bail!(
            "the validator stopped: {status}; see {}",
            dir.join("validator.log").display()
        );
    }
    drop(nodes);

    let graph = chain.metagraph()?;
    // The validator's saved history is the record: it survives restarts, and a window judged
    // again after a crash replaces nothing in it.
    let history = dir.join("state").join("validator").join("validator.json");
    let windows: Vec<serde_json::Value> = std::fs::read(&history)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["history"].as_array().cloned())
        .unwrap_or_else(|| windows.lock().unwrap().clone());
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
                "bytes_uploaded": uploaded.get(&name).map_or(0, |u| u.bytes),
                "steps": uploaded.get(&name).map_or(0, |u| u.steps),
                "tokens": uploaded.get(&name).map_or(0, |u| u.tokens),
                "utilisation": uploaded.get(&name).and_then(|u| u.utilisation),
                "windows_rebased": uploaded.get(&name).map_or(0, |u| u.rebased),
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
            .sum::<f64>()
            + 0.0 // an empty sum is -0.0
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
    let png = dir.join("report.png");
    let bars: Vec<(String, f64, bool)> = miners_report
        .iter()
        .filter(|n| n["name"] != "validator")
        .map(|n| {
            let name = n["name"].as_str().unwrap_or("").to_string();
            let hostile = name.starts_with("adv-");
            (name, n["incentive"].as_f64().unwrap_or(0.0), hostile)
        })
        .collect();
    crate::plot::report_png(&png, &losses, &bars)?;
    println!("\nreport: {} and {}", path.display(), png.display());
    Ok(())
}

/// The chain `--chain` names, with the devnet's nodes on it.
fn open_chain(
    args: &DevnetArgs,
    dir: &Path,
    owner: &Keypair,
    validator: &Keypair,
    miners: &[(String, Keypair, String)],
    runtime: &tokio::runtime::Runtime,
) -> Result<DevChain> {
    if args.chain == "embedded" {
        let block_ms = (args.block_seconds * 1000.0).round().max(1.0) as u64;
        return DevChain::embedded(dir, block_ms, validator, runtime.handle().clone());
    }
    let endpoint = args.subtensor.endpoint()?.context(
        "--chain subtensor needs --subtensor.chain_endpoint ws://HOST:PORT (a development \
         chain: scripts/chopsticks.sh runs one)",
    )?;
    let coldkey = Keypair::dev("devnet coldkey");
    let members = Members {
        coldkey: &coldkey,
        owner,
        validator,
        miners: miners.iter().map(|(_, key, _)| key).collect(),
    };
    eprintln!(
        "creating a subnet on {} and registering the nodes",
        endpoint.url
    );
    DevChain::subtensor(&endpoint, &members, runtime.handle().clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_miners_share_the_cores() {
        let miner = |behaviour: &str| {
            (
                behaviour.to_string(),
                Keypair::dev(behaviour),
                behaviour.to_string(),
            )
        };
        let three = vec![miner("honest"), miner("honest"), miner("honest")];
        assert_eq!(
            Threads::share(2, &three, None),
            Threads {
                miner: 1,
                validator: 2
            }
        );
        let mut mixed = three.clone();
        mixed.extend([miner("noise"), miner("lazy"), miner("stale")]);
        assert_eq!(Threads::share(16, &mixed, None).miner, 4);
        assert_eq!(Threads::share(16, &mixed, Some(2)).miner, 2);
        assert_eq!(Threads::share(1, &mixed, Some(0)).miner, 1);
    }
}
