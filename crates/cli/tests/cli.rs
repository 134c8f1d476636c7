//! The `gradient` binary as a user runs it.

use std::process::Command;

/// The binary, with its cache (the tokenized bundled corpus) in a directory of the test's own.
fn gradient() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradient"));
    cmd.env("GRADIENT_CACHE", cache());
    cmd
}

fn cache() -> &'static std::path::Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Runs the command and asserts that it succeeded, showing its stderr if not.
fn succeed(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn train_tiny_60_steps_json_then_resume_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ckpt");
    let run = succeed(
        gradient()
            .args([
                "train",
                "--preset",
                "tiny",
                "--steps",
                "60",
                "--log-format",
                "json",
            ])
            .arg("--out")
            .arg(&out),
    );
    let lines = json_lines(&run.stdout);
    let steps: Vec<_> = lines.iter().filter(|l| l["event"] == "step").collect();
    assert_eq!(steps.len(), 60);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"].as_u64(), Some(i as u64 + 1));
        assert!(s["loss"].as_f64().unwrap().is_finite());
        assert!(s["tokens_per_s"].as_f64().unwrap() > 0.0);
    }
    let first = steps[0]["loss"].as_f64().unwrap();
    let last = steps[59]["loss"].as_f64().unwrap();
    assert!(
        last < first - 2.0,
        "training loss {first} -> {last} did not fall"
    );
    let done = lines.iter().find(|l| l["event"] == "done").unwrap();
    let (v0, v1) = (
        done["val_loss_start"].as_f64().unwrap(),
        done["val_loss"].as_f64().unwrap(),
    );
    assert!(v1 < v0 - 2.0, "validation loss {v0} -> {v1} did not fall");

    // Resuming continues from step 60 with the saved optimizer state.
    let resumed = succeed(
        gradient()
            .args([
                "train",
                "--preset",
                "tiny",
                "--steps",
                "2",
                "--log-format",
                "json",
                "--resume",
            ])
            .arg("--out")
            .arg(&out),
    );
    let lines = json_lines(&resumed.stdout);
    let eval = lines.iter().find(|l| l["event"] == "eval").unwrap();
    assert_eq!(eval["step"].as_u64(), Some(60));
    assert!(
        eval["val_loss"].as_f64().unwrap() < v0 - 2.0,
        "resume did not load the trained weights"
    );

    let hf = dir.path().join("hf");
    succeed(
        gradient()
            .args(["export", "hf", "--checkpoint"])
            .arg(&out)
            .arg("--out")
            .arg(&hf),
    );
    let config: serde_json::Value = read_json(&hf.join("config.json"));
    assert_eq!(config["architectures"][0], "LlamaForCausalLM");
    assert_eq!(config["num_key_value_heads"], 2);
    assert_eq!(config["tie_word_embeddings"], true);
    let weights = std::fs::read(hf.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&weights).unwrap();
    assert_eq!(
        st.tensor("model.layers.0.mlp.gate_proj.weight")
            .unwrap()
            .shape(),
        &[384, 128]
    );
    assert!(
        st.tensor("lm_head.weight").is_err(),
        "tied embeddings export no lm_head"
    );
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--preset", "huge", "--steps", "1"],
            "unknown model preset",
        ),
        (
            vec!["train", "--steps", "1", "--device", "tpu:0"],
            "unknown device",
        ),
        // No machine of this project's has a GPU: the driver probe says so before burn would
        // panic in a device thread (a machine with one gets "built without the `cuda` feature").
        (
            vec!["train", "--steps", "1", "--device", "cuda:0"],
            if gradient_model::cuda_devices().unwrap_or(0) == 0 {
                "--device cpu"
            } else {
                "`cuda` feature"
            },
        ),
        (
            vec![
                "train",
                "--steps",
                "1",
                "--resume",
                "--out",
                "/nonexistent/ckpt",
            ],
            "manifest.json",
        ),
        (
            vec![
                "export",
                "hf",
                "--checkpoint",
                "/nonexistent/ckpt",
                "--out",
                "x",
            ],
            "manifest.json",
        ),
    ];
    for (args, needle) in cases {
        let out = gradient()
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{stderr}` lacks `{needle}`"
        );
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
}

#[test]
fn flags_come_from_the_environment_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = succeed(
        gradient()
            .args([
                "train",
                "--log-format",
                "json",
                "--eval-every",
                "0",
                "--batch-size",
                "1",
                "--seq-len",
                "8",
            ])
            .env("GRADIENT_STEPS", "2")
            .env("GRADIENT_OUT", dir.path().join("env-ckpt")),
    );
    let steps = json_lines(&out.stdout)
        .iter()
        .filter(|l| l["event"] == "step")
        .count();
    assert_eq!(steps, 2);
    assert!(dir.path().join("env-ckpt/manifest.json").exists());
}

#[test]
fn prepare_user_data_then_train_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let docs: String = (0..400)
        .map(|i| format!("{{\"text\": \"Document {i} says that the quick brown fox jumps over the lazy dog {i} times.\"}}\n"))
        .collect();
    std::fs::write(input.join("docs.jsonl"), docs).unwrap();
    let data = dir.path().join("dataset");
    succeed(
        gradient()
            .args(["data", "prepare", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&data),
    );
    let manifest: serde_json::Value = read_json(&data.join("manifest.json"));
    assert_eq!(manifest["tokenizer"], "gpt2");
    assert_eq!(manifest["dtype"], "u16");
    assert!(
        !manifest["splits"]["validation"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let run = succeed(
        gradient()
            .args([
                "train",
                "--steps",
                "3",
                "--log-format",
                "json",
                "--batch-size",
                "2",
                "--seq-len",
                "16",
            ])
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(dir.path().join("ckpt")),
    );
    assert_eq!(
        json_lines(&run.stdout)
            .iter()
            .filter(|l| l["event"] == "step")
            .count(),
        3
    );

    // A dataset whose shard was damaged is refused with the reason.
    let shard = data.join("train-00000.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&shard, bytes).unwrap();
    let bad = gradient()
        .args(["train", "--steps", "1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("ckpt2"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("corrupt shard"),
        "{stderr}"
    );
}
