//! Eight processes register, commit and set weights on one SQLite chain at once. Every call
//! that succeeded is in the chain exactly once, every uid is distinct, and every epoch ran once.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gradient_chain::{EmbeddedChain, Keypair, LocalChain, SubnetParams};

const WORKERS: usize = 8;
const COMMITS: usize = 15;
const WEIGHT_SETS: usize = 3;

fn params() -> SubnetParams {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    SubnetParams {
        block_time_ms: 100,
        tempo: 5,
        weights_rate_limit: 2,
        max_uids: 16,
        activity_cutoff: 10_000,
        ..SubnetParams::devnet(now)
    }
}

fn worker_key(i: usize) -> Keypair {
    Keypair::dev(&format!("worker-{i}"))
}

#[test]
fn eight_processes_share_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chain.sqlite");
    let chain = LocalChain::open_or_create(&db, &params()).unwrap();
    for i in 0..WORKERS {
        chain
            .set_stake(&worker_key(i).account(), 1_000_000_000 * (i as u64 + 1))
            .unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    // All eight start before any is waited for.
    let handles: Vec<_> = (0..WORKERS)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "worker",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("GRADIENT_CHAIN_WORKER", i.to_string())
                .env("GRADIENT_CHAIN_DB", &db)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in handles.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker {i} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check(&db);
}

fn check(db: &Path) {
    let chain = LocalChain::open(db).unwrap();
    let graph = chain.metagraph().unwrap();
    assert_eq!(graph.neurons.len(), WORKERS);
    let mut uids: Vec<u16> = graph.neurons.iter().map(|n| n.uid).collect();
    uids.sort();
    assert_eq!(uids, (0..WORKERS as u16).collect::<Vec<_>>());
    for i in 0..WORKERS {
        let key = worker_key(i);
        let uid = graph
            .uid_of(&key.account())
            .expect("every worker registered");
        let neuron = graph.neuron(uid).unwrap();
        // 1 register + COMMITS commits + WEIGHT_SETS weight sets, one nonce each.
        let calls = (1 + COMMITS + WEIGHT_SETS) as u64;
        assert_eq!(chain.nonce(&key.account()).unwrap(), calls, "worker {i}");
        let commitment = chain.commitment(&key.account()).unwrap().unwrap();
        assert_eq!(
            commitment.data,
            format!("worker-{i}-{}", COMMITS - 1).into_bytes()
        );
        // The last weights each worker set: every other uid, weighted by its uid + 1.
        let mut others: Vec<(u16, u16)> = (0..WORKERS as u16)
            .filter(|&u| u != uid)
            .map(|u| (u, 0))
            .collect();
        let max = others.iter().map(|o| o.0 + 1).max().unwrap() as f64;
        for o in &mut others {
            o.1 = (((o.0 + 1) as f64 / max) * 65535.0).round() as u16;
        }
        assert_eq!(neuron.weights, others, "worker {i}");
    }
    let blocks: Vec<u64> = chain.epochs(0).unwrap().iter().map(|e| e.block).collect();
    let tempo = chain.params().unwrap().tempo;
    let expected: Vec<u64> = (1..=blocks.len() as u64).map(|k| k * tempo).collect();
    assert_eq!(blocks, expected, "every epoch exactly once, in order");
}

/// One worker process; run only by `eight_processes_share_one_chain`.
#[test]
#[ignore]
fn worker() {
    let Ok(i) = std::env::var("GRADIENT_CHAIN_WORKER") else {
        return;
    };
    let i: usize = i.parse().unwrap();
    let db = std::env::var("GRADIENT_CHAIN_DB").unwrap();
    let chain = LocalChain::open(Path::new(&db)).unwrap();
    let key = worker_key(i);
    let owner = Keypair::dev("owner");
    chain.register(&key, owner.account()).unwrap();
    for k in 0..COMMITS {
        chain
            .commit(&key, format!("worker-{i}-{k}").as_bytes())
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait for the epoch that hands out permits, then for each rate-limit window.
    let mut done = 0;
    while done < WEIGHT_SETS {
        assert!(Instant::now() < deadline, "worker {i} timed out");
        let graph = chain.metagraph().unwrap();
        let me = graph.uid_of(&key.account()).unwrap();
        if graph.neuron(me).unwrap().validator_permit && graph.neurons.len() == WORKERS {
            let uids: Vec<u16> = (0..WORKERS as u16).filter(|&u| u != me).collect();
            let weights: Vec<f32> = uids.iter().map(|&u| (u + 1) as f32).collect();
            match chain.set_weights(&key, &uids, &weights, 0) {
                Ok(_) => done += 1,
                Err(e) if e.is_rate_limited() => {}
                Err(e) => panic!("worker {i}: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
