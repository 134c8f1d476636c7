//! The quality benchmark's pipeline on a small scale: the network and the one machine see the
//! same tokens, every stage is measured, and the owner's genesis is the one both start from.

use gradient_model::Device;
use gradient_node::quality::{self, QualitySetup};
use gradient_node::{RunContext, owner};
use gradient_protocol::RunConfig;

/// One tokenized-corpus cache for every test here: they run in parallel threads of one
/// process, where each setting its own would pull the cache from under the others.
fn shared_cache() {
    static CACHE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        unsafe { std::env::set_var("GRADIENT_CACHE", dir.join("cache")) };
        dir
    });
}

/// The devnet run with 3 miners taking 12 steps of 4 sequences a window: 6 pages of 8, each seen
/// once, pipelined as the network does it (window `w` from master `w-1`, started eagerly).
fn single_pass(windows: u64, report_pages: usize, baseline: bool) -> (RunContext, QualitySetup) {
    let mut run = RunConfig::devnet(0);
    run.miner.inner_steps = 12;
    run.miner.pages_per_window = 6;
    let ctx = RunContext::new(run, Device::flex()).unwrap();
    let setup = QualitySetup {
        miners: 3,
        windows,
        steps_per_window: 12,
        stale: true,
        eager: true,
        eager_sent: false,
        rebase_after: None,
        keep_optimizer: false,
        feedback_beta: gradient_node::miner::FEEDBACK_BETA,
        probe_rank: None,
        report_pages,
        stages: false,
        baseline,
        single_lr: None,
    };
    (ctx, setup)
}

/// With a fixed budget of steps, the master's loss falls every window and ends within 10% of
/// one machine on the same tokens.
#[test]
fn the_master_learns_nearly_what_one_machine_learns_from_the_same_tokens() {
    shared_cache();
    let (ctx, setup) = single_pass(4, 4, true);
    let report = quality::run(&ctx, &setup, &|w| println!("{w:?}")).unwrap();
    println!(
        "network {} one machine {} ratio {} ({} bytes per submission)",
        report.network_loss, report.single_loss, report.ratio, report.bytes_per_submission
    );
    for w in &report.windows {
        assert!(
            w.next < w.latest,
            "window {} did not train: {w:?}",
            w.window
        );
        assert!(w.rejected.is_empty(), "honest miners refused: {w:?}");
    }
    assert!(report.ratio <= 1.10, "{report:?}");
    assert!(report.bytes_per_submission * 100.0 < report.dense_bytes as f64);
}

#[test]
fn network_and_one_machine_train_on_the_same_tokens() {
    shared_cache();
    let mut run = RunConfig::devnet(0);
    run.miner.inner_steps = 4;
    run.miner.pages_per_window = 2;
    let ctx = RunContext::new(run.clone(), Device::flex()).unwrap();
    let setup = QualitySetup {
        miners: 2,
        windows: 2,
        steps_per_window: 4,
        stale: false,
        eager: false,
        eager_sent: false,
        rebase_after: None,
        keep_optimizer: true,
        feedback_beta: 1.0,
        probe_rank: Some(2),
        report_pages: 2,
        stages: true,
        baseline: true,
        single_lr: None,
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
    assert!(first.plus_low_rank.is_finite(), "{first:?}");
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

/// Honest miners that train each of their pages once pass the own-page check in every window
/// of a ten-window run.
#[test]
fn honest_miners_training_each_page_once_are_never_refused() {
    shared_cache();
    let (ctx, setup) = single_pass(10, 1, false);
    let report = quality::run(&ctx, &setup, &|w| println!("{w:?}")).unwrap();
    for w in &report.windows {
        assert!(
            w.rejected.is_empty(),
            "window {}: {:?}",
            w.window,
            w.rejected
        );
        // The devnet run aggregates every delta that showed work on its pages, paid or not (an
        // honest delta whose evaluation gain is under a fifth of the best one's is paid nothing
        // that window).
        assert_eq!(w.aggregated, 3, "{w:?}");
    }
}
