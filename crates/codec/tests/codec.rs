//! Round trips, error feedback, determinism and hostile input.

use gradient_codec::{Codec, Delta, ErrorFeedback, Factoring, Settings, TensorSpec, Values};
use proptest::prelude::*;

fn specs() -> Vec<TensorSpec> {
    vec![
        TensorSpec {
            name: "embed".into(),
            shape: vec![130, 70],
        },
        TensorSpec {
            name: "norm".into(),
            shape: vec![70],
        },
        TensorSpec {
            name: "long".into(),
            shape: vec![9000],
        },
    ]
}

fn data(seed: u64) -> Vec<Vec<f32>> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    specs()
        .iter()
        .map(|s| {
            (0..s.numel())
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1e-2
                })
                .collect()
        })
        .collect()
}

fn views(d: &[Vec<f32>]) -> Vec<&[f32]> {
    d.iter().map(Vec::as_slice).collect()
}

fn decoded(codec: &Codec, bytes: &[u8]) -> Vec<Vec<f32>> {
    let delta = codec.decode(bytes).unwrap();
    let mut out: Vec<Vec<f32>> = codec.specs().iter().map(|s| vec![0.0; s.numel()]).collect();
    codec.apply(&[(&delta, 1.0)], &mut out).unwrap();
    out
}

/// The first tensor's bits after applying `deltas` to buffers of `start` on `threads` threads.
fn applied_bits(codec: &Codec, deltas: &[(&Delta, f32)], start: f32, threads: usize) -> Vec<u32> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut out: Vec<Vec<f32>> = codec
        .specs()
        .iter()
        .map(|s| vec![start; s.numel()])
        .collect();
    pool.install(|| codec.apply(deltas, &mut out).unwrap());
    out[0].iter().map(|v| v.to_bits()).collect()
}

fn rel_error(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        num += ((x - y) as f64).powi(2);
        den += (*x as f64).powi(2);
    }
    (num / den).sqrt()
}

fn with(values: Values, top_k: usize) -> Settings {
    Settings {
        values,
        top_k,
        ..Settings::default()
    }
}

#[test]
fn dense_and_pass_through_settings_round_trip_exactly_or_nearly() {
    let d = data(1);
    let dense = Codec::new(with(Values::Dense, 1), specs()).unwrap();
    assert_eq!(decoded(&dense, &dense.encode(&views(&d)).unwrap()), d);
    // Keeping every value of a chunk in f32 is lossless too.
    let all = Codec::new(with(Values::F32, 4096), specs()).unwrap();
    assert_eq!(decoded(&all, &all.encode(&views(&d)).unwrap()), d);
    let half = Codec::new(with(Values::F16, 4096), specs()).unwrap();
    assert!(rel_error(&d, &decoded(&half, &half.encode(&views(&d)).unwrap())) < 1e-3);
    let bf = Codec::new(with(Values::Bf16, 4096), specs()).unwrap();
    assert!(rel_error(&d, &decoded(&bf, &bf.encode(&views(&d)).unwrap())) < 5e-3);
}

#[test]
fn default_setting_compresses_over_200x_and_keeps_the_largest_values() {
    let specs = vec![TensorSpec {
        name: "w".into(),
        shape: vec![1024, 1024],
    }];
    let codec = Codec::new(Settings::default(), specs).unwrap();
    let d: Vec<f32> = (0..1024 * 1024u64)
        .map(|i| ((i * 7919 % 10007) as f32 - 5003.0) * 1e-6)
        .collect();
    let bytes = codec.encode(&[&d]).unwrap();
    let ratio = codec.dense_bytes() as f64 / bytes.len() as f64;
    assert!(ratio >= 200.0, "ratio {ratio}");
    let back = decoded(&codec, &bytes);
    let kept = back[0].iter().filter(|v| **v != 0.0).count();
    assert_eq!(kept, 256 * 32, "32 per 64x64 tile");
    // Every kept value has the sign of the original and is one of the largest of its tile.
    for (i, &v) in back[0].iter().enumerate() {
        if v != 0.0 {
            assert_eq!(v.signum(), d[i].signum());
            assert!(d[i].abs() > 4e-3, "kept a small value {} at {i}", d[i]);
        }
    }
}

#[test]
fn error_feedback_sends_what_was_dropped_later() {
    let codec = Codec::new(Settings::default(), specs()).unwrap();
    let d = data(2);
    let mut fb = ErrorFeedback::new(&codec, 1.0);
    let mut sent: Vec<Vec<f32>> = codec.specs().iter().map(|s| vec![0.0; s.numel()]).collect();
    let zeros: Vec<Vec<f32>> = codec.specs().iter().map(|s| vec![0.0; s.numel()]).collect();
    // One real delta, then empty windows: the residual drains into what is sent.
    let first = codec
        .decode(&fb.compress(&codec, &views(&d)).unwrap())
        .unwrap();
    codec.apply(&[(&first, 1.0)], &mut sent).unwrap();
    let once = rel_error(&d, &sent);
    for _ in 0..60 {
        let next = codec
            .decode(&fb.compress(&codec, &views(&zeros)).unwrap())
            .unwrap();
        codec.apply(&[(&next, 1.0)], &mut sent).unwrap();
    }
    let later = rel_error(&d, &sent);
    assert!(
        later < 0.5 * once,
        "error after one window {once}, after 61 {later}"
    );
    // sent + residual == everything given, up to rounding.
    for ((s, r), x) in sent
        .iter()
        .flatten()
        .zip(fb.residual().iter().flatten())
        .zip(d.iter().flatten())
    {
        assert!((s + r - x).abs() < 1e-6);
    }
    let restored = ErrorFeedback::from_residual(&codec, 1.0, fb.residual().to_vec()).unwrap();
    assert_eq!(restored.residual(), fb.residual());
    assert!(ErrorFeedback::from_residual(&codec, 1.0, vec![vec![f32::NAN]]).is_err());
}

#[test]
fn apply_is_bit_identical_across_thread_counts() {
    let codec = Codec::new(with(Values::Q4, 64), specs()).unwrap();
    let deltas: Vec<_> = (0..5)
        .map(|s| {
            codec
                .decode(&codec.encode(&views(&data(s))).unwrap())
                .unwrap()
        })
        .collect();
    let weighted: Vec<_> = deltas
        .iter()
        .enumerate()
        .map(|(i, d)| (d, 0.1 + i as f32 * 0.37))
        .collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut out = data(99);
        pool.install(|| codec.apply(&weighted, &mut out).unwrap());
        out.iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(4));
}

#[test]
fn hostile_deltas_are_refused_with_the_reason() {
    let codec = Codec::new(Settings::default(), specs()).unwrap();
    let bytes = codec.encode(&views(&data(3))).unwrap();
    let err = |b: &[u8]| {
        codec
            .decode(b)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };

    assert!(err(&[]).contains("not a safetensors container"));
    let mut huge = bytes.clone();
    huge.resize(codec.max_encoded_bytes() + 1, 0);
    assert!(err(&huge).contains("at most"));

    let other = Codec::new(with(Values::Q4, 32), specs()).unwrap();
    let e = err(&other.encode(&views(&data(3))).unwrap());
    assert!(e.contains("settings"), "{e}");

    let mut wrong = specs();
    wrong[1].shape = vec![71];
    let mismatched = Codec::new(Settings::default(), wrong).unwrap();
    let d: Vec<Vec<f32>> = mismatched
        .specs()
        .iter()
        .map(|s| vec![0.5; s.numel()])
        .collect();
    let e = err(&mismatched.encode(&views(&d)).unwrap());
    assert!(e.contains("tensor 1"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quantized_round_trips_stay_within_their_error(seed in any::<u64>(), mode in 0usize..3) {
        let values = [Values::Q2, Values::Q4, Values::Q8][mode];
        let codec = Codec::new(with(values, 4096), specs()).unwrap();
        let d = data(seed);
        let back = decoded(&codec, &codec.encode(&views(&d)).unwrap());
        // Keeping everything, the error is the quantization alone: magnitude steps of
        // (hi - lo) / (2^(bits-1) - 1) over a uniform spread.
        let bound = [0.6, 0.12, 0.01][mode];
        prop_assert!(rel_error(&d, &back) < bound, "{:?}: {}", values, rel_error(&d, &back));
    }

    #[test]
    fn random_and_mutated_bytes_never_panic(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), junk in proptest::collection::vec(any::<u8>(), 0..512)) {
        let codec = Codec::new(Settings::default(), specs()).unwrap();
        let mut bytes = codec.encode(&views(&data(seed))).unwrap();
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x | 1;
        }
        if let Ok(delta) = codec.decode(&bytes) {
            let mut out: Vec<Vec<f32>> = codec.specs().iter().map(|s| vec![0.0; s.numel()]).collect();
            codec.apply(&[(&delta, 1.0)], &mut out).unwrap();
            prop_assert!(out.iter().flatten().all(|v| v.is_finite()));
        }
        prop_assert!(codec.decode(&junk).is_err());
    }
}

#[test]
fn dct_round_trips_and_captures_smooth_structure() {
    let specs = vec![TensorSpec {
        name: "w".into(),
        shape: vec![130, 70],
    }];
    // A smooth delta: low-frequency waves across the matrix.
    let d: Vec<f32> = (0..130 * 70)
        .map(|i| {
            let (r, c) = ((i / 70) as f32, (i % 70) as f32);
            1e-3 * ((r * 0.05).sin() + (c * 0.08).cos() + 0.3 * (r * 0.11 + c * 0.07).sin())
        })
        .collect();
    let dct_all = Settings {
        values: Values::F32,
        top_k: 4096,
        dct: true,
        ..Settings::default()
    };
    let codec = Codec::new(dct_all, specs.clone()).unwrap();
    let back = decoded(&codec, &codec.encode(&[&d]).unwrap());
    assert!(rel_error(std::slice::from_ref(&d), &back) < 1e-5);

    let sparse = |dct| Settings {
        values: Values::Q8,
        top_k: 8,
        dct,
        ..Settings::default()
    };
    let error = |settings: Settings| {
        let codec = Codec::new(settings, specs.clone()).unwrap();
        rel_error(
            std::slice::from_ref(&d),
            &decoded(&codec, &codec.encode(&[&d]).unwrap()),
        )
    };
    let (plain, transformed) = (error(sparse(false)), error(sparse(true)));
    assert!(
        transformed < 0.5 * plain,
        "dct {transformed} vs plain {plain}"
    );

    let codec = Codec::new(sparse(true), specs).unwrap();
    let delta = codec.decode(&codec.encode(&[&d]).unwrap()).unwrap();
    let run = |threads| applied_bits(&codec, &[(&delta, 0.3), (&delta, 0.7)], 0.5, threads);
    assert_eq!(run(1), run(3));
    assert!(
        Settings {
            values: Values::Dense,
            dct: true,
            ..Settings::default()
        }
        .validate()
        .is_err()
    );
}

fn factored(rank: usize) -> Settings {
    Settings {
        rank,
        ..Settings::default()
    }
}

/// A 130 x 70 matrix of rank two plus a little noise, the shape of an early window's delta.
fn low_rank_matrix() -> Vec<f32> {
    let noise = &data(9)[0];
    (0..130 * 70)
        .map(|i| {
            let (r, c) = ((i / 70) as f32, (i % 70) as f32);
            1e-3 * ((r * 0.05).sin() * (c * 0.08).cos() + 0.5 * (r * 0.3).cos()) + 1e-3 * noise[i]
        })
        .collect()
}

#[test]
fn factored_matrices_carry_a_low_rank_delta_in_few_bytes() {
    let mut d = data(2);
    d[0] = low_rank_matrix();
    let codec = Codec::new(factored(2), specs()).unwrap();
    let bytes = codec.encode(&views(&d)).unwrap();
    let back = decoded(&codec, &bytes);
    let matrix_error = rel_error(&d[..1], &back[..1]);
    assert!(matrix_error < 0.02, "rank-2 error {matrix_error}");
    // Top-k at the same density keeps far less of it.
    let sparse = Codec::new(Settings::default(), specs()).unwrap();
    let sparse_back = decoded(&sparse, &sparse.encode(&views(&d)).unwrap());
    assert!(rel_error(&d[..1], &sparse_back[..1]) > 0.5);
    // The matrix takes (130 + 70) x 2 one-byte codes and 4 scales; vectors stay sparse.
    assert!(bytes.len() < 3_000, "{} bytes", bytes.len());
    // Vectors go through top-k as before.
    assert_eq!(
        back[2].iter().filter(|v| **v != 0.0).count(),
        sparse_back[2].iter().filter(|v| **v != 0.0).count()
    );
}

#[test]
fn factored_apply_is_bit_identical_across_thread_counts_and_adds_in_order() {
    let mut d = data(3);
    d[0] = low_rank_matrix();
    let codec = Codec::new(factored(3), specs()).unwrap();
    let delta = codec.decode(&codec.encode(&views(&d)).unwrap()).unwrap();
    let run = |threads| applied_bits(&codec, &[(&delta, 0.3), (&delta, 0.7)], 0.5, threads);
    assert_eq!(run(1), run(2));
    // 0.3 + 0.7 of the same delta is the delta, to rounding.
    let once = decoded(&codec, &codec.encode(&views(&d)).unwrap());
    let twice = run(2);
    for (a, b) in once[0].iter().zip(&twice) {
        assert!((a + 0.5 - f32::from_bits(*b)).abs() < 1e-6);
    }
}

#[test]
fn hostile_factors_are_refused_with_the_reason() {
    let d = data(4);
    let codec = Codec::new(factored(2), specs()).unwrap();
    let good = codec.encode(&views(&d)).unwrap();
    assert!(codec.decode(&good).is_ok());
    // The embed matrix's codes and scales sit in the container; find them by their bytes.
    let header = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&good[8..8 + header]).unwrap();
    let offsets = |key: &str| {
        let o = &json[key]["data_offsets"];
        (
            8 + header + o[0].as_u64().unwrap() as usize,
            8 + header + o[1].as_u64().unwrap() as usize,
        )
    };
    let (v0, _) = offsets("embed/values");
    let mut bad_code = good.clone();
    bad_code[v0] = 0x80;
    let err = codec.decode(&bad_code).err().unwrap().to_string();
    assert!(err.contains("-128"), "{err}");
    let (s0, _) = offsets("embed/scales");
    for bad in [f32::NAN, -1.0, 1e7] {
        let mut bad_scale = good.clone();
        bad_scale[s0..s0 + 4].copy_from_slice(&bad.to_le_bytes());
        let err = codec.decode(&bad_scale).err().unwrap().to_string();
        assert!(err.contains("factor scale"), "{bad}: {err}");
    }
    // A factored payload is not a sparse one and the other way round: the settings differ.
    let sparse = Codec::new(Settings::default(), specs()).unwrap();
    assert!(sparse.decode(&good).is_err());
    assert!(codec.decode(&sparse.encode(&views(&d)).unwrap()).is_err());
    // Rank with DCT or dense values is no setting.
    for settings in [
        Settings {
            dct: true,
            ..factored(2)
        },
        Settings {
            values: Values::Dense,
            ..factored(2)
        },
    ] {
        assert!(settings.validate().is_err());
    }
}

#[test]
fn error_feedback_with_factors_sends_the_rest_later() {
    let mut d = data(5);
    d[0] = low_rank_matrix();
    let codec = Codec::new(factored(1), specs()).unwrap();
    let mut feedback = ErrorFeedback::new(&codec, 1.0);
    let first = decoded(&codec, &feedback.compress(&codec, &views(&d)).unwrap());
    let zeros: Vec<Vec<f32>> = d.iter().map(|t| vec![0.0; t.len()]).collect();
    let second = decoded(&codec, &feedback.compress(&codec, &views(&zeros)).unwrap());
    let both: Vec<Vec<f32>> = first
        .iter()
        .zip(&second)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect())
        .collect();
    // Rank one then rank one of the rest is closer than rank one alone.
    assert!(rel_error(&d[..1], &both[..1]) < 0.8 * rel_error(&d[..1], &first[..1]));
}

/// The low-rank matrix with five rows moved each in its own direction, as the embedding rows
/// of the tokens a window trained on.
fn low_rank_with_rows() -> (Vec<f32>, [usize; 5]) {
    let mut m = low_rank_matrix();
    let rows = [3, 17, 64, 65, 129];
    for (n, &r) in rows.iter().enumerate() {
        for c in 0..70 {
            m[r * 70 + c] += 0.02 * (((c * (n + 2)) % 7) as f32 - 3.0);
        }
    }
    (m, rows)
}

fn with_rows(rank: usize, rows_per_mille: usize) -> Settings {
    Settings {
        rows_per_mille,
        ..factored(rank)
    }
}

#[test]
fn rows_the_factors_miss_are_sent_whole() {
    let mut d = data(6);
    let (m, moved) = low_rank_with_rows();
    d[0] = m;
    // 40 per mille of 130 rows: 5 rows.
    let codec = Codec::new(with_rows(2, 40), specs()).unwrap();
    let bytes = codec.encode(&views(&d)).unwrap();
    let back = decoded(&codec, &bytes);
    let plain = Codec::new(factored(2), specs()).unwrap();
    let plain_bytes = plain.encode(&views(&d)).unwrap();
    let plain_back = decoded(&plain, &plain_bytes);
    let (with, without) = (
        rel_error(&d[..1], &back[..1]),
        rel_error(&d[..1], &plain_back[..1]),
    );
    assert!(
        with < 0.1 && without > 0.5,
        "with rows {with}, without {without}"
    );
    // Five rows of 70 one-byte codes, a 4-byte index and a 4-byte scale each, and the
    // setting's name in the metadata.
    let extra = bytes.len() - plain_bytes.len();
    assert!((5 * 78..5 * 78 + 64).contains(&extra), "{extra} more bytes");
    // The moved rows are the ones sent: elsewhere the two agree to the factors' rounding.
    for r in (0..130).filter(|r| !moved.contains(r)) {
        for c in 0..70 {
            let (a, b) = (back[0][r * 70 + c], plain_back[0][r * 70 + c]);
            assert!((a - b).abs() < 2e-4, "row {r} col {c}: {a} vs {b}");
        }
    }
    // Error feedback keeps nothing of the moved rows but rounding.
    let mut feedback = ErrorFeedback::new(&codec, 1.0);
    feedback.compress(&codec, &views(&d)).unwrap();
    let left: f32 = moved
        .iter()
        .flat_map(|&r| feedback.residual()[0][r * 70..(r + 1) * 70].iter())
        .fold(0.0, |a, v| a.max(v.abs()));
    assert!(left < 2e-3, "largest residual on a sent row {left}");
}

#[test]
fn sent_rows_apply_bit_identically_across_thread_counts() {
    let mut d = data(7);
    d[0] = low_rank_with_rows().0;
    let codec = Codec::new(with_rows(2, 40), specs()).unwrap();
    let delta = codec.decode(&codec.encode(&views(&d)).unwrap()).unwrap();
    let run = |threads| applied_bits(&codec, &[(&delta, 0.4), (&delta, -1.3)], 0.25, threads);
    assert_eq!(run(1), run(2));
    assert_eq!(
        codec.encode(&views(&d)).unwrap(),
        codec.encode(&views(&d)).unwrap(),
        "the same rows are picked every time"
    );
}

#[test]
fn hostile_sent_rows_are_refused_with_the_reason() {
    let mut d = data(8);
    d[0] = low_rank_with_rows().0;
    let codec = Codec::new(with_rows(2, 40), specs()).unwrap();
    let good = codec.encode(&views(&d)).unwrap();
    let header = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&good[8..8 + header]).unwrap();
    let start = 8 + header + json["embed/indices"]["data_offsets"][0].as_u64().unwrap() as usize;
    let index = |bytes: &[u8], j: usize| {
        u32::from_le_bytes(bytes[start + 4 * j..start + 4 * j + 4].try_into().unwrap())
    };
    assert_eq!(index(&good, 0), 3);
    for (j, bad) in [(0usize, 130u32), (0, u32::MAX), (1, 3), (1, 2)] {
        let mut hostile = good.clone();
        hostile[start + 4 * j..start + 4 * j + 4].copy_from_slice(&bad.to_le_bytes());
        let err = codec.decode(&hostile).err().unwrap().to_string();
        assert!(err.contains("sent row"), "row {bad} at {j}: {err}");
    }
    // Rows without factors, or more than all of them, are no setting.
    for settings in [with_rows(0, 10), with_rows(2, 1001)] {
        assert!(settings.validate().is_err());
    }
}

fn embed_at(rank: usize, rows_per_mille: usize) -> Factoring {
    Factoring {
        tensor: "embed".into(),
        rank,
        rows_per_mille,
        row_bits: 8,
    }
}

#[test]
fn a_named_matrix_is_factored_at_its_own_rank_and_the_others_at_the_settings() {
    let mut specs = specs();
    specs.push(TensorSpec {
        name: "block".into(),
        shape: vec![40, 30],
    });
    let mut d = data(6);
    d[0] = low_rank_with_rows().0;
    d.push(
        (0..1200)
            .map(|i| ((i * 29 % 83) as f32 - 41.0) * 1e-4)
            .collect(),
    );
    let own = Codec::new(
        Settings {
            factors: vec![embed_at(2, 40)],
            ..factored(1)
        },
        specs.clone(),
    )
    .unwrap();
    let back = decoded(&own, &own.encode(&views(&d)).unwrap());
    let embed_alone = Codec::new(with_rows(2, 40), specs.clone()).unwrap();
    let rest_alone = Codec::new(factored(1), specs).unwrap();
    assert_eq!(
        back[0],
        decoded(&embed_alone, &embed_alone.encode(&views(&d)).unwrap())[0]
    );
    assert_eq!(
        back[3],
        decoded(&rest_alone, &rest_alone.encode(&views(&d)).unwrap())[3]
    );
    // A delta made with other factors is refused, not read at the wrong shapes.
    assert!(rest_alone.decode(&own.encode(&views(&d)).unwrap()).is_err());
}

#[test]
fn factors_must_name_a_matrix_of_the_model_once_at_a_valid_rank() {
    let with_factors = |factors: Vec<Factoring>, rank| Settings {
        factors,
        ..factored(rank)
    };
    let refused = |settings: Settings| match Codec::new(settings, specs()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted"),
    };
    let unknown = Factoring {
        tensor: "lm_head".into(),
        ..embed_at(2, 0)
    };
    assert!(refused(with_factors(vec![unknown], 1)).contains("`lm_head`"));
    let vector = Factoring {
        tensor: "norm".into(),
        ..embed_at(2, 0)
    };
    assert!(refused(with_factors(vec![vector], 1)).contains("not a matrix"));
    assert!(refused(with_factors(vec![embed_at(2, 0), embed_at(3, 0)], 1)).contains("twice"));
    assert!(refused(with_factors(vec![embed_at(0, 0)], 1)).contains("rank 0"));
    assert!(refused(with_factors(vec![embed_at(2, 1001)], 1)).contains("1001"));
    assert!(refused(with_factors(vec![embed_at(2, 0)], 0)).contains("needs a rank"));
    assert!(Codec::new(with_factors(vec![embed_at(2, 10)], 1), specs()).is_ok());
}

#[test]
fn sent_rows_at_fewer_bits_cost_less_and_refuse_the_code_outside_their_range() {
    let mut d = data(6);
    d[0] = low_rank_with_rows().0;
    let at_bits = |row_bits| {
        let settings = Settings {
            factors: vec![Factoring {
                row_bits,
                ..embed_at(2, 40)
            }],
            ..factored(1)
        };
        let codec = Codec::new(settings, specs()).unwrap();
        let bytes = codec.encode(&views(&d)).unwrap();
        (codec, bytes)
    };
    let (eight, eight_bytes) = at_bits(8);
    let (three, three_bytes) = at_bits(3);
    // Five rows of 70 codes: 350 bytes at 8 bits, 132 at 3 (1050 bits), give or take the
    // metadata naming the setting.
    let saved = eight_bytes.len() as i64 - three_bytes.len() as i64;
    assert!((200..=240).contains(&saved), "{saved} bytes saved");
    // Coarser codes cost a little accuracy; without the rows the error is above 0.5.
    let back = decoded(&three, &three_bytes);
    let error = rel_error(&d[..1], &back[..1]);
    let eight_error = rel_error(&d[..1], &decoded(&eight, &eight_bytes)[..1]);
    assert!(
        error < 0.2 && eight_error < error,
        "3-bit rows {error}, 8-bit {eight_error}"
    );
    // The first sent row's first code is bits 0..3 of the byte after the factors' codes; the
    // lone sign bit (-4) is outside -3..=3.
    let header = u64::from_le_bytes(three_bytes[..8].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&three_bytes[8..8 + header]).unwrap();
    let values = 8 + header + json["embed/values"]["data_offsets"][0].as_u64().unwrap() as usize;
    let first = values + (130 + 70) * 2;
    let mut hostile = three_bytes.clone();
    hostile[first] = (hostile[first] & !0b111) | 0b100;
    let err = three.decode(&hostile).err().unwrap().to_string();
    assert!(err.contains("sent-row code 0 is -4"), "{err}");
    // The same bytes at 8 bits are another setting's, and refused by length.
    assert!(eight.decode(&three_bytes).is_err());
}

#[test]
fn row_bits_are_two_to_eight_and_left_out_of_the_settings_at_eight() {
    let json = serde_json::to_string(&embed_at(2, 10)).unwrap();
    assert!(!json.contains("row_bits"), "{json}");
    let read: Factoring = serde_json::from_str(r#"{"tensor":"embed","rank":2}"#).unwrap();
    assert_eq!(read.row_bits, 8);
    for (row_bits, ok) in [(1, false), (2, true), (8, true), (9, false)] {
        let settings = Settings {
            factors: vec![Factoring {
                row_bits,
                ..embed_at(2, 10)
            }],
            ..factored(1)
        };
        assert_eq!(settings.validate().is_ok(), ok, "row_bits {row_bits}");
    }
}
