//! Running `gradient devnet` as a user would, and reading its report.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs a devnet in `dir` with `args` (and `env`) and returns its report.json.
pub fn devnet(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gradient"))
        .arg("devnet")
        // The windows these tests were sized for; the default is longer.
        .args(["--blocks-per-window", "24"])
        .args(args)
        .arg("--dir")
        .arg(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(
            "GRADIENT_CACHE",
            std::env::temp_dir().join("gradient-test-cache"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

pub fn losses(report: &Value) -> Vec<f64> {
    report["master_loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// The master's validation loss falls window over window.
pub fn assert_loss_falls(report: &Value, windows: usize) {
    let losses = losses(report);
    assert_eq!(losses.len(), windows, "{losses:?}");
    for pair in losses.windows(2) {
        assert!(pair[1] < pair[0], "master loss did not fall: {losses:?}");
    }
}

/// The master's loss ends well below where it started and no window raises it by more than
/// `slack`: for runs where a node is killed, and its window's work with it.
pub fn assert_loss_trends_down(report: &Value, windows: usize, slack: f64) {
    let losses = losses(report);
    assert_eq!(losses.len(), windows, "{losses:?}");
    for pair in losses.windows(2) {
        assert!(pair[1] < pair[0] + slack, "master loss rose: {losses:?}");
    }
    assert!(
        losses[windows - 1] < losses[0] - 0.5,
        "master loss did not fall: {losses:?}"
    );
}

/// Incentive by neuron name.
pub fn incentive(report: &Value, name: &str) -> f64 {
    report["neurons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no neuron {name}"))["incentive"]
        .as_f64()
        .unwrap()
}

/// The first seven kinds of hostile miner.
pub const ADVERSARIES: [&str; 7] = [
    "noise", "lazy", "copy", "stale", "late", "garbage", "replay",
];

/// Every kind of hostile miner (`--adversaries all`): the first seven and six that try to be
/// paid for work that is not theirs or not done on their pages.
pub const ALL_ADVERSARIES: [&str; 13] = [
    "noise",
    "lazy",
    "copy",
    "stale",
    "late",
    "garbage",
    "replay",
    "inflate",
    "mix",
    "echo",
    "elsewhere",
    "resign",
    "previous",
];

/// Honest miners take at least `honest_share` of the incentive and each of the `kinds` of
/// adversary at most 1%.
pub fn assert_pays_honest_work_only(
    report: &Value,
    honest: usize,
    kinds: &[&str],
    honest_share: f64,
) {
    let share = report["honest_incentive_share"].as_f64().unwrap();
    assert!(share >= honest_share, "honest miners got {share}");
    for i in 1..=honest {
        assert!(incentive(report, &format!("miner-{i}")) > 0.05, "miner-{i}");
    }
    for kind in kinds {
        let got = incentive(report, &format!("adv-{kind}"));
        assert!(got < 0.01, "adv-{kind} got incentive {got}");
    }
}
