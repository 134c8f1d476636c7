//! The quality benchmark's pipeline on a small scale: the network and the one machine see the
//! same tokens, every stage is measured, and the owner's genesis is the one both start from.

use gradient_model::Device;
use gradient_node::quality::{self, QualitySetup};
use gradient_node::{RunContext, owner};
use gradient_protocol::RunConfig;

#[test]
fn network_and_one_machine_train_on_the_same_tokens() {
    let dir = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("GRADIENT_CACHE", dir.path().join("cache")) };
    let mut run = RunConfig::devnet(0);
    run.miner.inner_steps = 4;
    run.miner.pages_per_window = 2;
    let ctx = RunContext::new(run.clone(), Device::flex()).unwrap();
    let setup = QualitySetup {
        miners: 2,
        windows: 2,
        steps_per_window: 4,
        stale: false,
        keep_optimizer: true,
        feedback_beta: 1.0,
        report_pages: 2,
        baseline: true,
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let report = quality::run(&ctx, &setup, &|w| seen.lock().unwrap().push(w.window)).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![0, 1]);
    // 2 miners x 2 windows x 4 steps x 4 rows x 128 targets, and the same for one machine.
    assert_eq!(report.network_tokens, 2 * 2 * 4 * 4 * 128);
    assert_eq!(report.single_tokens, report.network_tokens);
    assert!((report.ratio - report.network_loss / report.single_loss).abs() < 1e-12);
    // Training helps: the uncompressed mean delta lowers the loss, and the one machine does.
    let first = &report.windows[0];
    assert!(first.plus_dense < first.latest - 0.1, "{first:?}");
    assert!(report.single_loss < report.genesis_loss - 0.1, "{report:?}");
    // Each window's next master is the one the following window starts from.
    assert_eq!(report.windows[1].latest, first.next);
    assert!(report.bytes_per_submission * 100.0 < report.dense_bytes as f64);
    // The genesis is the owner's.
    let genesis = owner::genesis_master(&run).unwrap();
    let genesis_loss = ctx
        .mean_loss(
            &ctx.model_from(&genesis.params).unwrap(),
            &ctx.corpus
                .page_batches(
                    gradient_data::Split::Validation,
                    &gradient_data::pages::evaluation_pages(
                        blake3::hash(b"gradient quality bench pages").as_bytes(),
                        2,
                        ctx.corpus.num_pages(gradient_data::Split::Validation),
                    )
                    .unwrap(),
                )
                .unwrap(),
        )
        .unwrap();
    assert_eq!(genesis_loss, report.genesis_loss);
}
