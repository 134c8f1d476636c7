//! A real subtensor runtime for the tests: chopsticks running subtensor's spec-218 chain spec
//! (`../shared/subtensor`, see its README). Each test starts a private chain with
//! `scripts/chopsticks.sh run` from `GRADIENT_SUBTENSOR_SHARED` (the folder with
//! `raonet.json` and `dev-accounts.yml`; `.ci/run` sets it and installs chopsticks): the tests
//! sudo from //Alice, and on one shared chain they would race each other's nonces. With
//! `GRADIENT_TEST_SUBTENSOR_ENDPOINT` they use a running chain instead (run them with
//! `--test-threads 1` then). With neither, they say why and skip: a user's clone has no chain
//! spec, and points at a real network instead.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gradient_subtensor::{Endpoint, Subtensor, Timeouts};
use subxt::rpcs::{RpcClient, rpc_params};

pub struct Chopsticks {
    pub chain: Subtensor,
    pub url: String,
    rpc: RpcClient,
    child: Option<Child>,
    _log: Option<tempfile::TempDir>,
}

impl Drop for Chopsticks {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A chain to test against, or `None` (after saying why) where none can be had.
pub async fn chain() -> Option<Chopsticks> {
    if let Ok(url) = std::env::var("GRADIENT_TEST_SUBTENSOR_ENDPOINT") {
        return Some(connect(url, None, None).await);
    }
    private_chain(None).await
}

/// A private chain that builds a block every `seconds`, stamped with the wall clock, as a
/// devnet needs (never a shared one: the devnet creates a subnet as //Alice).
pub async fn chain_with_blocks(seconds: u32) -> Option<Chopsticks> {
    private_chain(Some(seconds)).await
}

async fn private_chain(block_seconds: Option<u32>) -> Option<Chopsticks> {
    let Ok(shared) = std::env::var("GRADIENT_SUBTENSOR_SHARED") else {
        eprintln!(
            "skipped: no subtensor to test against. Set GRADIENT_TEST_SUBTENSOR_ENDPOINT to a \
             running chopsticks, or GRADIENT_SUBTENSOR_SHARED to the folder with raonet.json \
             (../shared/subtensor); scripts/chopsticks.sh installs chopsticks"
        );
        return None;
    };
    let script = repo_root().join("scripts/chopsticks.sh");
    let (child, port, log) = start(&script, Path::new(&shared), block_seconds);
    Some(connect(format!("ws://127.0.0.1:{port}"), Some(child), Some(log)).await)
}

fn start(
    script: &Path,
    shared: &Path,
    block_seconds: Option<u32>,
) -> (Child, u16, tempfile::TempDir) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::tempdir().unwrap();
    let out = std::fs::File::create(log.path().join("chopsticks.log")).unwrap();
    let child = Command::new(script)
        .arg("run")
        .arg(shared)
        .arg(port.to_string())
        .args(block_seconds.map(|s| s.to_string()))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
    (child, port, log)
}

async fn connect(url: String, child: Option<Child>, log: Option<tempfile::TempDir>) -> Chopsticks {
    let endpoint = Endpoint::from_flags(None, Some(&url)).unwrap().unwrap();
    let started = Instant::now();
    let timeouts = Timeouts {
        answer: Duration::from_secs(60),
        inclusion: Duration::from_secs(120),
    };
    loop {
        match Subtensor::connect(&endpoint, timeouts).await {
            Ok(chain) => {
                let rpc = RpcClient::from_insecure_url(&url).await.unwrap();
                return Chopsticks {
                    chain,
                    url,
                    rpc,
                    child,
                    _log: log,
                };
            }
            Err(e) if started.elapsed() < Duration::from_secs(180) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                let shown = log
                    .as_ref()
                    .and_then(|d| std::fs::read_to_string(d.path().join("chopsticks.log")).ok())
                    .unwrap_or_default();
                panic!("chopsticks at {url} did not come up: {e}\n{shown}");
            }
        }
    }
}

impl Chopsticks {
    /// Writes storage directly (chopsticks' `dev_setStorage`, entries by pallet and name).
    pub async fn set_storage(&self, entries: serde_json::Value) {
        let _: serde_json::Value = self
            .rpc
            .request("dev_setStorage", rpc_params![entries])
            .await
            .unwrap();
    }

    /// Builds `count` empty blocks (chopsticks builds them on demand).
    pub async fn new_blocks(&self, count: u32) {
        let _: serde_json::Value = self
            .rpc
            .request(
                "dev_newBlock",
                rpc_params![serde_json::json!({ "count": count })],
            )
            .await
            .unwrap();
    }
}
