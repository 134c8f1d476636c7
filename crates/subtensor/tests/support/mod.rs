//! A real subtensor runtime for the tests: chopsticks running subtensor's spec-218 chain spec
//! (`../shared/subtensor`, see its README). `.ci/run` starts one and exports
//! `GRADIENT_TEST_SUBTENSOR_ENDPOINT`; without it, a test starts a private one from
//! `GRADIENT_SUBTENSOR_SHARED` (the folder with `raonet.json` and `dev-accounts.yml`) and the
//! chopsticks that `tools/chopsticks` installs (`npm ci` there). With neither, the tests say
//! why and skip: a user's clone has no chain spec, and points at a real network instead.

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
    let Ok(shared) = std::env::var("GRADIENT_SUBTENSOR_SHARED") else {
        eprintln!(
            "skipped: no subtensor to test against. Set GRADIENT_TEST_SUBTENSOR_ENDPOINT to a \
             running chopsticks, or GRADIENT_SUBTENSOR_SHARED to the folder with raonet.json \
             (../shared/subtensor) after `npm ci` in tools/chopsticks"
        );
        return None;
    };
    let bin = repo_root().join("tools/chopsticks/node_modules/.bin/chopsticks");
    assert!(
        bin.exists(),
        "GRADIENT_SUBTENSOR_SHARED is set but {} is missing: run `npm ci` in tools/chopsticks",
        bin.display()
    );
    let (child, port, log) = start(&bin, Path::new(&shared));
    Some(connect(format!("ws://127.0.0.1:{port}"), Some(child), Some(log)).await)
}

fn start(bin: &Path, shared: &Path) -> (Child, u16, tempfile::TempDir) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Aura's slots are 3 s here; a timestamp off the 12 s grid made the first blocks fail.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let timestamp = now_ms / 12_000 * 12_000;
    let log = tempfile::tempdir().unwrap();
    let out = std::fs::File::create(log.path().join("chopsticks.log")).unwrap();
    let child = Command::new(bin)
        .arg("--genesis")
        .arg(shared.join("raonet.json"))
        .args(["--port", &port.to_string(), "--build-block-mode", "Instant"])
        .args(["--timestamp", &timestamp.to_string()])
        .arg("--import-storage")
        .arg(shared.join("dev-accounts.yml"))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
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
