//! Deterministic init and named parameter access.

mod common;

use common::{cpu, micro_config};
use gradient_model::{Batch, Model, ModelConfig};

#[test]
fn same_seed_gives_identical_parameters_and_different_seeds_differ() {
    let config = ModelConfig::preset("tiny").unwrap();
    let a = Model::new(config.clone(), 7, &cpu())
        .unwrap()
        .read_params()
        .unwrap();
    let b = Model::new(config.clone(), 7, &cpu())
        .unwrap()
        .read_params()
        .unwrap();
    let c = Model::new(config, 8, &cpu())
        .unwrap()
        .read_params()
        .unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.name, y.name);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&x.values),
            bits(&y.values),
            "{} differs for the same seed",
            x.name
        );
    }
    let q = "model.layers.0.self_attn.q_proj.weight";
    let find =
        |ps: &[gradient_model::NamedParam]| ps.iter().find(|p| p.name == q).unwrap().values.clone();
    assert_ne!(find(&a), find(&c), "different seeds gave the same {q}");
    // Norm gains start at one whatever the seed.
    let norm = c.iter().find(|p| p.name == "model.norm.weight").unwrap();
    assert!(norm.values.iter().all(|&v| v == 1.0));
}

#[test]
fn names_and_shapes_follow_hugging_face_llama() {
    let config = ModelConfig::preset("tiny").unwrap();
    let model = Model::new(config.clone(), 0, &cpu()).unwrap();
    let specs = model.specs();
    assert_eq!(specs[0].name, "model.embed_tokens.weight");
    assert_eq!(specs[0].shape, vec![50257, 128]);
    let k = specs
        .iter()
        .find(|s| s.name == "model.layers.3.self_attn.k_proj.weight")
        .unwrap();
    assert_eq!(
        k.shape,
        vec![64, 128],
        "k_proj is [kv_heads * head_dim, d_model]"
    );
    let down = specs
        .iter()
        .find(|s| s.name == "model.layers.1.mlp.down_proj.weight")
        .unwrap();
    assert_eq!(down.shape, vec![128, 384], "linear weights are [out, in]");
    assert!(
        specs.iter().all(|s| s.name != "lm_head.weight"),
        "tiny ties embeddings"
    );
    assert_eq!(specs.len(), 1 + 4 * 9 + 1);
    let untied = ModelConfig {
        tie_embeddings: false,
        ..config
    };
    assert_eq!(untied.param_specs().last().unwrap().name, "lm_head.weight");
}

#[test]
fn preset_sizes() {
    let m = |name: &str| ModelConfig::preset(name).unwrap().num_params() as f64 / 1e6;
    assert!((5.0..10.0).contains(&m("tiny")), "tiny {}", m("tiny"));
    assert!((22.0..28.0).contains(&m("small")), "small {}", m("small"));
    assert!((140.0..160.0).contains(&m("150m")), "150m {}", m("150m"));
    assert!((900.0..1200.0).contains(&m("1b")), "1b {}", m("1b"));
    assert!(
        ModelConfig::preset("huge")
            .unwrap_err()
            .to_string()
            .contains("tiny, small")
    );
}

#[test]
fn read_write_read_is_identical_and_writes_change_the_output() {
    let mut model = Model::new(micro_config(true), 3, &cpu()).unwrap();
    let before = model.read_params().unwrap();
    model.write_params(before.clone()).unwrap();
    assert_eq!(model.read_params().unwrap(), before);

    let batch = Batch::new((0..18).map(|i| (i * 7) % 64).collect(), 2, 8).unwrap();
    let loss = model.evaluate(&batch).unwrap();
    let name = "model.layers.1.mlp.up_proj.weight";
    let mut changed = model.read_param(name).unwrap();
    changed.iter_mut().for_each(|v| *v = -3.0 * *v + 0.1);
    model.write_param(name, &changed).unwrap();
    assert_eq!(model.read_param(name).unwrap(), changed);
    let new_loss = model.evaluate(&batch).unwrap();
    assert!(
        (new_loss - loss).abs() > 1e-4,
        "loss {loss} unchanged after writing {name}"
    );
}

#[test]
fn bad_writes_are_refused_with_the_reason() {
    let mut model = Model::new(micro_config(false), 3, &cpu()).unwrap();
    let e = model
        .write_param("model.nope", &[1.0])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.nope") && e.contains("no such parameter"),
        "{e}"
    );
    let e = model
        .write_param("model.norm.weight", &[1.0; 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 values given"), "{e}");
    let e = model
        .write_param("model.norm.weight", &[f32::NAN; 16])
        .unwrap_err()
        .to_string();
    assert!(e.contains("not finite"), "{e}");
    let mut params = model.read_params().unwrap();
    params.pop();
    let e = model.write_params(params).unwrap_err().to_string();
    assert!(e.contains("lm_head.weight") && e.contains("missing"), "{e}");
}

#[test]
fn batches_outside_the_model_are_refused() {
    let model = Model::new(micro_config(true), 3, &cpu()).unwrap();
    let e = model
        .evaluate(&Batch::new(vec![64; 18], 2, 8).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("token id 64"), "{e}");
    let e = model
        .evaluate(&Batch::new(vec![1; 20], 2, 9).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("context length 8"), "{e}");
    assert!(Batch::new(vec![1; 5], 2, 8).is_err());
}
