//! The network end to end with every bucket on a real S3 server (SeaweedFS, authentication
//! enforced), hostile miners included.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The SeaweedFS `.ci/run` started, or one of this test's own, stopped when dropped.
struct Server {
    endpoint: String,
    dir: Option<PathBuf>,
}

impl Server {
    fn get(tmp: &Path) -> Server {
        if let Ok(endpoint) = std::env::var("GRADIENT_TEST_S3_ENDPOINT") {
            return Server {
                endpoint,
                dir: None,
            };
        }
        let dir = tmp.join("seaweedfs");
        let base = 21000 + (std::process::id() % 400) as u16 * 12;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/seaweedfs.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg("start")
            .arg(&dir)
            .arg(base.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "SeaweedFS: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Server {
            endpoint: format!("http://127.0.0.1:{}", base + 6),
            dir: Some(dir),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/seaweedfs.sh");
            let _ = Command::new("bash")
                .arg(script)
                .arg("stop")
                .arg(dir)
                .status();
        }
    }
}

#[test]
fn the_network_runs_on_s3() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::get(dir.path());
    let prefix = format!(
        "s3://{}/devnet-{}",
        "gradient-test",
        std::process::id() as u64 * 1000
            + std::time::UNIX_EPOCH.elapsed().unwrap().subsec_millis() as u64
    );
    let adversaries = ADVERSARIES.join(",");
    let env = [
        ("AWS_ACCESS_KEY_ID", "gradient-test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "gradient-test-secret".to_string()),
        ("AWS_ENDPOINT_URL", server.endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    let report = devnet(
        &dir.path().join("devnet"),
        &[
            "--windows",
            "3",
            "--miners",
            "3",
            "--inner-steps",
            "12",
            "--store",
            &prefix,
            "--adversaries",
            &adversaries,
            // Ten miners and a validator on two cores: judging a window took 32 to 40 s, so at
            // one-second blocks (24 s windows) master 1 came out in window 2, whose miners had
            // time for one step and were refused: the master stood still.
            "--block-seconds",
            "2",
        ],
        &env,
    );
    assert_loss_falls(&report, 3);
    assert_pays_honest_work_only(&report, 3, &ADVERSARIES, 0.9);
    // Nothing went to the local disk: the buckets are on the server.
    assert!(!dir.path().join("devnet/buckets").exists());
}
