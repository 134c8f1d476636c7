//! The training step: gradients, learning, evaluation.

mod common;

use common::{cpu, micro_config};
use gradient_model::synthetic::SyntheticStream;
use gradient_model::{Batch, Model, ModelConfig, Precision, TrainConfig, Trainer};

#[test]
fn gradients_match_finite_differences() {
    for tie in [true, false] {
        let mut model = Model::new(micro_config(tie), 11, &cpu()).unwrap();
        // Larger weights than the init give gradients well above f32 noise.
        let scaled: Vec<_> = model
            .read_params()
            .unwrap()
            .into_iter()
            .map(|mut p| {
                if p.shape.len() == 2 {
                    p.values.iter_mut().for_each(|v| *v *= 10.0);
                }
                p
            })
            .collect();
        model.write_params(scaled).unwrap();
        let batch = Batch::new((0..18).map(|i| (i * 13 + 5) % 64).collect(), 2, 8).unwrap();
        let (_, grads) = model.loss_and_gradients(&batch).unwrap();

        let mut checked = 0;
        for g in &grads {
            // The largest-gradient entries of each parameter are the informative ones.
            let mut order: Vec<usize> = (0..g.values.len()).collect();
            order.sort_by(|&a, &b| g.values[b].abs().total_cmp(&g.values[a].abs()));
            let original = model.read_param(&g.name).unwrap();
            for &i in order.iter().take(3) {
                let h = 1e-2_f32;
                let mut v = original.clone();
                v[i] = original[i] + h;
                model.write_param(&g.name, &v).unwrap();
                let up = model.evaluate(&batch).unwrap();
                v[i] = original[i] - h;
                model.write_param(&g.name, &v).unwrap();
                let down = model.evaluate(&batch).unwrap();
                model.write_param(&g.name, &original).unwrap();
                let fd = (up - down) / (2.0 * h as f64);
                let an = g.values[i] as f64;
                let tol = 2e-3 + 0.05 * an.abs().max(fd.abs());
                assert!(
                    (fd - an).abs() <= tol,
                    "{} [{i}] (tied {tie}): autodiff {an:.6}, finite difference {fd:.6}",
                    g.name
                );
                checked += 1;
            }
        }
        assert!(checked >= 3 * grads.len());
    }
}

#[test]
fn loss_on_one_batch_falls_below_one_within_100_steps() {
    let config = ModelConfig::preset("tiny").unwrap();
    let vocab = config.vocab_size as f64;
    let model = Model::new(config, 1, &cpu()).unwrap();
    let train = TrainConfig {
        lr: 3e-3,
        warmup_steps: 5,
        total_steps: 100,
        weight_decay: 0.0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, train).unwrap();
    let batch = SyntheticStream::new(1, 2, 50257).batch(4, 32).unwrap();
    let first = trainer.model().evaluate(&batch).unwrap();
    assert!(
        (first - vocab.ln()).abs() < 0.5,
        "initial loss {first} is not about ln(vocab) = {}",
        vocab.ln()
    );
    let mut last = first;
    for step in 0..100 {
        last = trainer.step(std::slice::from_ref(&batch)).unwrap().loss;
        if last < 1.0 {
            eprintln!("loss {last:.3} after {} steps", step + 1);
            break;
        }
    }
    let eval = trainer.model().evaluate(&batch).unwrap();
    assert!(
        last < 1.0 && eval < 1.0,
        "loss {first:.3} -> {last:.3} (eval {eval:.3}) after 100 steps"
    );
}

#[test]
fn accumulated_micro_batches_equal_one_large_batch() {
    let config = micro_config(true);
    let mut stream = SyntheticStream::new(5, 6, config.vocab_size);
    let a = stream.batch(2, 8).unwrap();
    let b = stream.batch(2, 8).unwrap();
    let both = Batch::new([a.tokens(), b.tokens()].concat(), 4, 8).unwrap();
    let train = TrainConfig::default();
    let mut split = Trainer::new(
        Model::new(config.clone(), 9, &cpu()).unwrap(),
        train.clone(),
    )
    .unwrap();
    let mut whole = Trainer::new(Model::new(config, 9, &cpu()).unwrap(), train).unwrap();
    let s = split.step(&[a, b]).unwrap();
    let w = whole.step(&[both]).unwrap();
    assert!((s.loss - w.loss).abs() < 1e-5, "{} vs {}", s.loss, w.loss);
    assert!(
        (s.grad_norm - w.grad_norm).abs() < 1e-4 * w.grad_norm,
        "{} vs {}",
        s.grad_norm,
        w.grad_norm
    );
    let (ps, pw) = (
        split.model().read_params().unwrap(),
        whole.model().read_params().unwrap(),
    );
    for (x, y) in ps.iter().zip(&pw) {
        let diff = x
            .values
            .iter()
            .zip(&y.values)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "{} differs by {diff}", x.name);
    }
}

#[test]
fn evaluation_is_deterministic() {
    let config = micro_config(false);
    let batch = SyntheticStream::new(1, 1, config.vocab_size)
        .batch(2, 8)
        .unwrap();
    let model = Model::new(config, 2, &cpu()).unwrap();
    let e1 = model.evaluate(&batch).unwrap();
    let e2 = model.evaluate(&batch).unwrap();
    assert_eq!(e1.to_bits(), e2.to_bits());
}

/// bf16 matmuls (the GPU recipe) train the same model as f32 to within bf16's rounding: the
/// losses of the first steps agree to a few hundredths, both fall, and the weights stay f32.
#[test]
fn bf16_matmuls_track_f32_training() {
    let batch = SyntheticStream::new(3, 2, 50257).batch(4, 32).unwrap();
    let run = |matmul: Precision| {
        let model = Model::new(ModelConfig::preset("tiny").unwrap(), 5, &cpu()).unwrap();
        let train = TrainConfig {
            warmup_steps: 2,
            total_steps: 6,
            matmul,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(model, train).unwrap();
        let losses: Vec<f64> = (0..6)
            .map(|_| trainer.step(std::slice::from_ref(&batch)).unwrap().loss)
            .collect();
        let params = trainer.model().read_params().unwrap();
        (losses, params)
    };
    let (f32_losses, f32_params) = run(Precision::F32);
    let (bf16_losses, bf16_params) = run(Precision::Bf16);
    for (a, b) in f32_losses.iter().zip(&bf16_losses) {
        assert!(
            (a - b).abs() < 0.05 * a.abs().max(1.0),
            "{f32_losses:?} vs {bf16_losses:?}"
        );
    }
    assert!(bf16_losses[5] < bf16_losses[0] - 0.5, "{bf16_losses:?}");
    // Not the same run: the products really were rounded to bf16.
    assert_ne!(f32_losses, bf16_losses);
    assert_eq!(f32_params.len(), bf16_params.len());
    assert_eq!(Precision::parse("bf16").unwrap(), Precision::Bf16);
    assert!(
        Precision::parse("fp8")
            .unwrap_err()
            .to_string()
            .contains("f32 or bf16")
    );
}
