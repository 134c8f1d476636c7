//! Checkpoints: round trips, optimizer state, corrupt and mismatched files.

mod common;

use std::path::Path;

use common::{cpu, micro_config};
use gradient_model::checkpoint::{self, MANIFEST, MODEL_FILE, OPTIMIZER_FILE};
use gradient_model::synthetic::SyntheticStream;
use gradient_model::{Model, TrainConfig, Trainer};

fn trained(dir: &Path, clip: f64) -> Trainer {
    let config = micro_config(false);
    let mut stream = SyntheticStream::new(3, 4, config.vocab_size);
    let train = TrainConfig {
        grad_clip: clip,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(Model::new(config, 5, &cpu()).unwrap(), train).unwrap();
    for _ in 0..3 {
        trainer.step(&[stream.batch(2, 8).unwrap()]).unwrap();
    }
    checkpoint::save_trainer(dir, &trainer).unwrap();
    trainer
}

#[test]
fn save_then_load_restores_weights_and_optimizer_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut original = trained(dir.path(), 1.0);
    let loaded = checkpoint::load(dir.path(), &cpu()).unwrap();
    assert_eq!(loaded.manifest.step, 3);
    assert_eq!(&loaded.manifest.config, original.model().config());
    assert_eq!(
        loaded.model.read_params().unwrap(),
        original.model().read_params().unwrap()
    );
    let mut resumed = loaded.into_trainer(original.config().clone()).unwrap();
    assert_eq!(resumed.steps_done(), 3);
    // The next step is the same only if the moments and the step count came back exactly.
    let batch = SyntheticStream::new(9, 9, 64).batch(2, 8).unwrap();
    let a = original.step(std::slice::from_ref(&batch)).unwrap();
    let b = resumed.step(std::slice::from_ref(&batch)).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        original.model().read_params().unwrap(),
        resumed.model().read_params().unwrap()
    );
}

#[test]
fn clipping_scales_the_gradient_to_the_threshold() {
    // After the first of the three steps exp_avg = (1 - beta1) * clipped gradient; across three
    // steps its norm stays at most (1 - beta1^3) * clip when every step is clipped.
    let dir = tempfile::tempdir().unwrap();
    let clip = 1e-3;
    trained(dir.path(), clip);
    let bytes = std::fs::read(dir.path().join(OPTIMIZER_FILE)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut sq = 0.0f64;
    for (name, view) in st.tensors() {
        if name.ends_with(".exp_avg") {
            for b in view.data().chunks_exact(4) {
                sq += (f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).powi(2);
            }
        }
    }
    let norm = sq.sqrt();
    let bound = (1.0 - 0.9f64.powi(3)) * clip;
    assert!(
        norm <= bound * 1.001 && norm > 0.5 * bound,
        "exp_avg norm {norm}, bound {bound}"
    );
}

fn expect_error(dir: &Path, needle: &str) {
    let err = match checkpoint::load(dir, &cpu()) {
        Ok(_) => panic!("loading should fail with `{needle}`"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(needle),
        "error `{err}` does not mention `{needle}`"
    );
}

#[test]
fn corrupt_truncated_and_mismatched_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path(), 1.0);
    let model = dir.path().join(MODEL_FILE);
    let good = std::fs::read(&model).unwrap();

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    std::fs::write(&model, &flipped).unwrap();
    expect_error(dir.path(), "corrupt");

    std::fs::write(&model, &good[..good.len() - 100]).unwrap();
    expect_error(dir.path(), "truncated");

    std::fs::write(&model, &good).unwrap();
    let manifest_path = dir.path().join(MANIFEST);
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(
        &manifest_path,
        manifest.replace("\"d_model\": 16", "\"d_model\": 32"),
    )
    .unwrap();
    expect_error(dir.path(), "the model needs F32 [64, 32]");

    let mut huge: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    huge["files"][MODEL_FILE]["bytes"] = serde_json::json!(1u64 << 40);
    std::fs::write(&manifest_path, huge.to_string()).unwrap();
    expect_error(dir.path(), "more than this model can need");

    std::fs::write(&manifest_path, "{not json").unwrap();
    expect_error(dir.path(), "not valid JSON");

    std::fs::remove_file(&manifest_path).unwrap();
    expect_error(dir.path(), MANIFEST);
}

#[test]
fn a_hash_consistent_but_invalid_file_is_refused_before_use() {
    // Someone rewrote model.safetensors and the manifest together, with garbage inside.
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path(), 1.0);
    let garbage = vec![0xffu8; 4096];
    std::fs::write(dir.path().join(MODEL_FILE), &garbage).unwrap();
    let manifest_path = dir.path().join(MANIFEST);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["files"][MODEL_FILE] =
        serde_json::json!({"bytes": 4096, "blake3": blake3::hash(&garbage).to_hex().to_string()});
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    expect_error(dir.path(), "not a valid safetensors file");
}
