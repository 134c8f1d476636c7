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

/// One boto3 upload and download of `mb` MB: (put MB/s, get MB/s).
fn boto3(python: &std::path::Path, endpoint: &str, mb: usize) -> (f64, f64) {
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bench/s3_boto3.py"
        ))
        .args([endpoint, support::BUCKET, support::KEY, support::SECRET])
        .args([mb.to_string(), "1".to_string()])
        .output()
        .expect("run bench/s3_boto3.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["put"][0].as_f64().unwrap(), v["get"][0].as_f64().unwrap())
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
    println!("SeaweedFS at {endpoint}; {rounds} rounds after a warm-up, median MB/s");
    println!(
        "{:>8} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}",
        "size", "put ours", "put boto3", "ratio", "get ours", "get boto3", "ratio"
    );
    for &mb in &sizes {
        let size = mb << 20;
        let data = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>());
        let (mut put, mut get) = (Vec::new(), Vec::new());
        let (mut boto_put, mut boto_get) = (Vec::new(), Vec::new());
        // One warm-up round each, then alternate who goes first so neither gets the fresher
        // server.
        for r in 0..=rounds {
            let ours_first = r % 2 == 0;
            let mut boto = || {
                let (p, g) = boto3(&python, &endpoint, mb);
                (r > 0).then(|| {
                    boto_put.push(p);
                    boto_get.push(g);
                });
            };
            if !ours_first {
                boto();
            }
            let key = format!("bench/ours-{mb}-{r}");
            let start = Instant::now();
            runtime
                .block_on(store.put(&key, PutPayload::from(data.clone()), false))
                .unwrap();
            let p = size as f64 / start.elapsed().as_secs_f64() / 1e6;
            let start = Instant::now();
            let back = runtime.block_on(store.get(&key, u64::MAX)).unwrap();
            let g = size as f64 / start.elapsed().as_secs_f64() / 1e6;
            assert_eq!(back.len(), size);
            drop(back);
            runtime.block_on(store.delete(&key)).unwrap();
            if r > 0 {
                put.push(p);
                get.push(g);
            }
            if ours_first {
                boto();
            }
        }
        let (op, bp) = (median(put), median(boto_put));
        let (og, bg) = (median(get), median(boto_get));
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
