//! The network end to end: an owner, three honest miners, a validator and all thirteen kinds of
//! hostile miner, as separate processes that talk only through a file store and the embedded
//! chain. The same devnet without the hostile miners is the baseline: with them, the master
//! must train no worse, honest miners must take at least 95% of the incentive, and each kind
//! of adversary less than 1%.

mod common;

use common::*;

#[test]
fn honest_work_is_paid_and_every_adversary_is_not() {
    let dir = tempfile::tempdir().unwrap();
    // Capped steps that fit a window: honest deltas depend only on the master, so the two
    // runs can be compared.
    let args = ["--windows", "4", "--miners", "3", "--inner-steps", "12"];
    // Judging a window of three took 23 to 27 s and must end 4 grace blocks before the next
    // window does: at one-second blocks (20 s left) the validator fell a few seconds further
    // behind every window, so miners waited for their base master and never moved onto the
    // next one. Two-second blocks leave it 40 s.
    let mut clean_args = args.to_vec();
    clean_args.extend(["--block-seconds", "2"]);
    let clean = devnet(&dir.path().join("clean"), &clean_args, &[]);
    // The own-page check can still refuse honest miners by chance late in a run (measured in
    // issue 12): on a slower 2-core machine a whole window was refused in both halves of this test
    // (7.358, 6.509, 6.493, 6.493 clean), and a refused window keeps its master. A window may
    // also apply deltas that showed work on their pages but scored 0 (`include = "trained"`;
    // measured alone a late delta's gain is noise), and raise the master a little: 0.002 and
    // 0.006 seen with a lagging validator. So a window may keep the master or raise it by
    // less than 0.02, and the run must train.
    assert_loss_trends_down(&clean, 4, 0.02);

    // Sixteen miners and a validator judging them on two cores. Judging a window took 62 to
    // 68 s idle (78 s in a loaded CI run) and must end before the next window does, 4 grace
    // blocks after the deadline: at two-second blocks (48 s windows) the validator fell
    // behind, miners waited for masters published late, and honest deltas of windows 2 and 3
    // were refused as not trained (4 and 5 of 6). Four-second blocks leave it 80 s.
    let mut hostile_args = args.to_vec();
    hostile_args.extend(["--adversaries", "all", "--block-seconds", "4"]);
    let hostile = devnet(&dir.path().join("hostile"), &hostile_args, &[]);
    assert_loss_trends_down(&hostile, 4, 0.02);
    assert_pays_honest_work_only(&hostile, 3, &ALL_ADVERSARIES, 0.95);

    let (clean, hostile) = (losses(&clean), losses(&hostile));
    println!("master loss without adversaries {clean:?}, with {hostile:?}");
    let (c, h) = (clean[3], hostile[3]);
    // Both devnets cap the honest miners' steps at what fits a window, so their deltas differ
    // only where the hostile processes slow a miner past its window (equal to 1e-8 measured with
    // thirteen kinds, 6.3404 both); the master must not lag by the work of a window.
    assert!(
        h <= c + 0.3,
        "adversaries made the master worse: {h} > {c} + 0.3"
    );
}
