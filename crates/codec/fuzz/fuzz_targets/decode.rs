//! Feeds arbitrary bytes to the strict decoder of a small model, and applies whatever it accepts.
//!
//!     cd crates/codec/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode corpus/decode seeds -- -max_total_time=300
//!
//! Any panic, hang or out-of-bounds access is a finding; accepted deltas must apply to finite
//! values.

#![no_main]

use std::sync::OnceLock;

use gradient_codec::{Codec, Factoring, Settings, TensorSpec, Values};
use libfuzzer_sys::fuzz_target;

fn codecs() -> &'static [Codec] {
    static CODECS: OnceLock<Vec<Codec>> = OnceLock::new();
    CODECS.get_or_init(|| {
        let specs = vec![
            TensorSpec {
                name: "w".into(),
                shape: vec![70, 130],
            },
            TensorSpec {
                name: "b".into(),
                shape: vec![300],
            },
        ];
        [
            (Values::Q2, false),
            (Values::Q8, false),
            (Values::F16, false),
            (Values::Dense, false),
            (Values::Q4, true),
            (Values::Q2, false),
            (Values::Q2, false),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (values, dct))| {
            let settings = Settings {
                values,
                tile: 32,
                chunk: 128,
                top_k: 8,
                dct,
                // The sixth sends matrices as rank-2 factors and 10% of rows whole, the
                // seventh names `w` with 10% of rows whole at 3 bits a code.
                rank: if i >= 5 { 2 } else { 0 },
                rows_per_mille: if i == 5 { 100 } else { 0 },
                factors: if i == 6 {
                    vec![Factoring {
                        tensor: "w".into(),
                        rank: 2,
                        rows_per_mille: 100,
                        row_bits: 3,
                    }]
                } else {
                    Vec::new()
                },
                ..Settings::default()
            };
            Codec::new(settings, specs.clone()).expect("valid settings")
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let codec = &codecs()[which as usize % codecs().len()];
    if let Ok(delta) = codec.decode(bytes) {
        let mut out: Vec<Vec<f32>> = codec.specs().iter().map(|s| vec![0.0; s.numel()]).collect();
        codec
            .apply(&[(&delta, 1.0)], &mut out)
            .expect("shapes match");
        assert!(out.iter().flatten().all(|v| v.is_finite()));
    }
});
