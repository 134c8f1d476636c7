//! Codec throughput, compression ratio and error on the `small` (25M) and `150m` parameter sets:
//!
//!     cargo bench -p gradient-codec --bench codec            # both sizes
//!     cargo bench -p gradient-codec --bench codec -- small   # one
//!
//! Throughput is GB of dense f32 per second, on one core and on all cores. Deltas are Gaussian
//! noise with a heavier-tailed component, like pseudo-gradients after a few inner steps.

use std::time::Instant;

use gradient_codec::{Codec, Settings, TensorSpec, Values};
use gradient_model::ModelConfig;

fn specs(preset: &str) -> Vec<TensorSpec> {
    ModelConfig::preset(preset)
        .expect("preset")
        .param_specs()
        .into_iter()
        .map(|s| TensorSpec {
            name: s.name,
            shape: s.shape,
        })
        .collect()
}

fn delta(specs: &[TensorSpec]) -> Vec<Vec<f32>> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32
    };
    specs
        .iter()
        .map(|s| {
            (0..s.numel())
                .map(|_| {
                    let (u, v) = (next().max(1e-7), next());
                    let g = (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos();
                    g * 1e-3 * if next() < 0.05 { 4.0 } else { 1.0 }
                })
                .collect()
        })
        .collect()
}

fn time<T>(threads: usize, f: impl FnOnce() -> T + Send) -> (T, f64)
where
    T: Send,
{
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let t0 = Instant::now();
        let out = f();
        (out, t0.elapsed().as_secs_f64())
    })
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let settings = [
        ("q2 top32 (default)", Settings::default()),
        (
            "q4 top32",
            Settings {
                values: Values::Q4,
                ..Settings::default()
            },
        ),
        (
            "q8 top64",
            Settings {
                values: Values::Q8,
                top_k: 64,
                ..Settings::default()
            },
        ),
        (
            "q2 top32 + dct",
            Settings {
                dct: true,
                ..Settings::default()
            },
        ),
        (
            "f16 top64",
            Settings {
                values: Values::F16,
                top_k: 64,
                ..Settings::default()
            },
        ),
        (
            "dense f32",
            Settings {
                values: Values::Dense,
                ..Settings::default()
            },
        ),
    ];
    println!(
        "{:<8} {:<20} {:>8} {:>9} {:>12} {:>12} {:>12} {:>12}",
        "params",
        "setting",
        "ratio",
        "rel_err",
        "enc 1c GB/s",
        "enc all GB/s",
        "dec+apply 1c",
        "dec+apply all"
    );
    for preset in ["small", "150m"] {
        if !filter.is_empty() && !filter.iter().any(|f| f == preset) {
            continue;
        }
        let specs = specs(preset);
        let d = delta(&specs);
        let views: Vec<&[f32]> = d.iter().map(Vec::as_slice).collect();
        let dense_gb = specs.iter().map(|s| s.numel() * 4).sum::<usize>() as f64 / 1e9;
        for (name, s) in &settings {
            let codec = Codec::new(s.clone(), specs.clone()).expect("codec");
            let (bytes, enc1) = time(1, || codec.encode(&views).expect("encode"));
            let (_, enc_all) = time(cores, || codec.encode(&views).expect("encode"));
            // Resident buffers, as a node's master is: first-touch page faults are not the codec's.
            let resident = || -> Vec<Vec<f32>> {
                specs
                    .iter()
                    .map(|s| {
                        let mut v = vec![1.0f32; s.numel()];
                        v.iter_mut().for_each(|x| *x = 0.0);
                        v
                    })
                    .collect()
            };
            let mut out = resident();
            let (_, dec1) = time(1, || {
                let delta = codec.decode(&bytes).expect("decode");
                codec.apply(&[(&delta, 1.0)], &mut out).expect("apply");
            });
            let mut again = resident();
            let (_, dec_all) = time(cores, || {
                let delta = codec.decode(&bytes).expect("decode");
                codec.apply(&[(&delta, 1.0)], &mut again).expect("apply");
            });
            let (mut num, mut den) = (0.0f64, 0.0f64);
            for (x, y) in d.iter().flatten().zip(out.iter().flatten()) {
                num += ((x - y) as f64).powi(2);
                den += (*x as f64).powi(2);
            }
            println!(
                "{:<8} {:<20} {:>7.1}x {:>9.3} {:>12.2} {:>12.2} {:>12.2} {:>12.2}",
                preset,
                name,
                codec.dense_bytes() as f64 / bytes.len() as f64,
                (num / den).sqrt(),
                dense_gb / enc1,
                dense_gb / enc_all,
                dense_gb / dec1,
                dense_gb / dec_all
            );
        }
    }
}
