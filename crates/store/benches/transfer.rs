//! Upload and download throughput to SeaweedFS on loopback, ours against boto3's managed
//! transfers on the same server in the same run.
//!
//! `cargo bench -p gradient-store --bench transfer` (uses `GRADIENT_TEST_S3_ENDPOINT` if set,
//! else starts a private SeaweedFS). `BENCH_SIZES_MB=50,500 BENCH_ROUNDS=3` are the defaults.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use bytes::Bytes;
use gradient_store::StoreConfig;
use object_store::PutPayload;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map_or(default, |v| v.parse().expect(name))
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES_MB")
        .unwrap_or_else(|_| "50,500".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_SIZES_MB: sizes in MB"))
        .collect();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .map_or(3, |s| s.parse().expect("BENCH_ROUNDS"));
    let endpoint = support::s3_endpoint();
    let weed = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/seaweedfs.sh"
        ))
        .arg("install")
        .output()
        .expect("install SeaweedFS and boto3");
    let python = std::path::PathBuf::from(String::from_utf8(weed.stdout).unwrap().trim())
        .with_file_name("python");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = support::s3_store_at(
        &endpoint,
        support::KEY,
        support::SECRET,
        StoreConfig {
            part_size: env_or("BENCH_PART_MB", 8) << 20,
            concurrency: env_or("BENCH_CONCURRENCY", 16),
            unsigned_payload: env_or("BENCH_UNSIGNED", 1) == 1,
            ..StoreConfig::default()
        },
    );
    println!("SeaweedFS at {endpoint}; {rounds} rounds, median MB/s");
    println!(
        "{:>8} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}",
        "size", "put ours", "put boto3", "ratio", "get ours", "get boto3", "ratio"
    );
    for &mb in &sizes {
        let size = mb << 20;
        let data = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>());
        let (mut put, mut get) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let key = format!("bench/ours-{mb}-{r}");
            let start = Instant::now();
            runtime
                .block_on(store.put(&key, PutPayload::from(data.clone()), false))
                .unwrap();
            put.push(size as f64 / start.elapsed().as_secs_f64() / 1e6);
            let start = Instant::now();
            let back = runtime.block_on(store.get(&key, u64::MAX)).unwrap();
            get.push(size as f64 / start.elapsed().as_secs_f64() / 1e6);
            assert_eq!(back.len(), size);
            runtime.block_on(store.delete(&key)).unwrap();
        }
        let out = Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../bench/s3_boto3.py"
            ))
            .args([&endpoint, support::BUCKET, support::KEY, support::SECRET])
            .args([mb.to_string(), rounds.to_string()])
            .output()
            .expect("run bench/s3_boto3.py");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let boto: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let series = |k: &str| -> Vec<f64> {
            boto[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (op, bp) = (median(put), median(series("put")));
        let (og, bg) = (median(get), median(series("get")));
        println!(
            "{:>6}MB {:>10.0} {:>10.0} {:>6.2}x {:>10.0} {:>10.0} {:>6.2}x",
            mb,
            op,
            bp,
            op / bp,
            og,
            bg,
            og / bg
        );
    }
}
