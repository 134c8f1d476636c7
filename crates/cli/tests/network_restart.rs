//! SIGKILL the validator and a miner in the middle of a window (`devnet --chaos` does it and
//! starts them again): both carry on from their saved state, no window is lost or judged
//! twice, and the killed miner goes on earning.

mod common;

use std::collections::BTreeMap;

use common::*;

#[test]
fn killed_nodes_resume_and_nothing_is_lost_or_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let devnet_dir = dir.path().join("devnet");
    let report = devnet(
        &devnet_dir,
        &[
            "--windows",
            "4",
            "--miners",
            "2",
            // 12 steps, as in network.rs: at 8 (two steps per own page, some of them in the
            // warmup) the rank test refused honest deltas in most windows of one run.
            "--inner-steps",
            "12",
            "--chaos",
        ],
        &[],
    );
    // The killed miner loses the window it was killed in and restarts its next one from the
    // base master alone (its eager start is not saved): the master may stall for a window.
    assert_loss_trends_down(&report, 4, 0.1);

    // Every window judged exactly once, in order.
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(devnet_dir.join("state/validator/validator.json")).unwrap(),
    )
    .unwrap();
    let history = state["history"].as_array().unwrap();
    let judged: Vec<u64> = history
        .iter()
        .map(|w| w["window"].as_u64().unwrap())
        .collect();
    assert_eq!(judged, vec![0, 1, 2, 3]);
    assert_eq!(state["next_window"], 4);

    // The running scores are exactly one smoothing step per judged window.
    let ema = 0.5;
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for window in history {
        for miner in window["miners"].as_array().unwrap() {
            let hotkey = miner["hotkey"].as_str().unwrap().to_string();
            let score = miner["score"].as_f64().unwrap();
            let s = match expected.get(&hotkey) {
                None => ema * score,
                Some(p) => ema * score + (1.0 - ema) * p,
            };
            expected.insert(hotkey, s);
        }
    }
    let saved: BTreeMap<String, f64> = serde_json::from_value(state["scores"].clone()).unwrap();
    // To the last bits only: serde_json's default float parsing may round the history's
    // scores one ulp away from the values the validator smoothed.
    assert_eq!(
        saved.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "scores lost"
    );
    for (hotkey, s) in &saved {
        let e = expected[hotkey];
        assert!(
            (s - e).abs() <= 1e-12 * e.abs().max(1e-12),
            "{hotkey}: score {s}, one smoothing step per window gives {e}: counted twice or lost"
        );
    }

    // One master per window and one aggregate per window, each published once.
    let runs = devnet_dir.join("buckets/validator/runs");
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // A write the SIGKILL cut short leaves object_store's staging file (`NAME#N`) beside the
    // objects; the store's listing skips it, and so does this count.
    let count = |what: &str| {
        std::fs::read_dir(run.join(what))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.contains('#'))
            .count()
    };
    assert_eq!(count("masters"), 4, "masters 1..=4");
    assert_eq!(count("aggregates"), 4, "aggregates 0..=3");

    // The killed miner came back and was paid for the windows after its restart.
    let miner_1 = report["neurons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "miner-1")
        .unwrap()["hotkey"]
        .as_str()
        .unwrap()
        .to_string();
    // Back in time: it submitted for both windows after its restart, before their deadlines.
    // Paid in at least one: the own-page check refuses an honest miner by chance now and then
    // (issue 12; an unvouched miner, as one refused before, meets the strict allowance), and
    // in one CI run it refused miner-1 in windows 0 to 2, before and after the kill.
    let mine: Vec<&serde_json::Value> = history[2..]
        .iter()
        .map(|window| {
            window["miners"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["hotkey"] == miner_1.as_str())
                .unwrap()
        })
        .collect();
    for m in &mine {
        assert!(
            m["measurement"].is_object(),
            "the restarted miner's submission was not judged: {m}"
        );
    }
    assert!(
        mine.iter().any(|m| m["score"].as_f64().unwrap() > 0.0),
        "the restarted miner earned nothing after its restart: {mine:?}"
    );
    assert!(saved[&miner_1] > 0.0, "miner-1's running score is 0");
}
