//! `gradient devnet`, the README's main command, as a new user runs it (shortened to two
//! windows): a whole network on one machine that trains the master and writes a report.

use std::process::Command;

#[test]
fn devnet_trains_the_master_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gradient"))
        .args(["devnet", "--windows", "2", "--miners", "3"])
        .args(["--blocks-per-window", "24", "--dir"])
        .arg(dir.path().join("devnet"))
        .env("GRADIENT_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("window   1"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("devnet").join("report.json")).unwrap(),
    )
    .unwrap();
    let losses: Vec<f64> = report["master_loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 2);
    assert!(
        losses[1] < losses[0],
        "master loss did not fall: {losses:?}\n{stdout}"
    );
    for window in report["windows"].as_array().unwrap() {
        let miners = window["miners"].as_array().unwrap();
        assert_eq!(miners.len(), 3, "{window}");
        assert!(miners.iter().any(|m| m["aggregated"] == true), "{window}");
    }
    // Every miner uploaded compressed deltas, far smaller than the dense 29 MB.
    let mut rebased = 0;
    for neuron in report["neurons"].as_array().unwrap() {
        if neuron["name"].as_str().unwrap().starts_with("miner") {
            let bytes = neuron["bytes_uploaded"].as_u64().unwrap();
            assert!(bytes > 0 && bytes < 2 * 1_000_000, "{neuron}");
            // Tokens trained: every step is a batch of 128-token rows.
            let steps = neuron["steps"].as_u64().unwrap();
            let tokens = neuron["tokens"].as_u64().unwrap();
            assert!(steps > 0 && tokens >= steps * 128, "{neuron}");
            rebased += neuron["windows_rebased"].as_u64().unwrap();
        }
    }
    // Window 1 trains from master 0. Master 1 comes out once window 0 is judged, after its
    // deadline (block 28 of 1 s blocks); where that leaves window 1 (ending at block 48) a few
    // seconds of training after the miners see it, they move onto it (their submissions then
    // name master 1, and were aggregated above). On a busy machine judging can take the whole
    // window, and then there is nothing to move onto in time.
    let judged = report["windows"][0]["judge_seconds"].as_f64().unwrap();
    if judged < 10.0 {
        assert!(
            rebased > 0,
            "master 1 came out {judged:.1}s after the deadline and no miner moved onto it\n{stdout}"
        );
    } else {
        eprintln!("window 0 took {judged:.1}s to judge: too late for window 1 to move onto it");
    }
}
