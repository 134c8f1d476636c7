//! Scoring: how much a delta lowers the base master's loss on pages no miner could know, and
//! whether its miner did the work it was assigned. Every number here is computed from
//! measurements passed in, so two validators with the same measurements agree exactly.

use serde::{Deserialize, Serialize};

use crate::config::ScoringSpec;

/// Mean losses a validator measured for one submission, on the base master before and after
/// applying the delta.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// On the evaluation pages, drawn after the window closed.
    pub eval_before: f64,
    pub eval_after: f64,
    /// On the first of the miner's own assigned pages.
    pub own_before: f64,
    pub own_after: f64,
}

/// Why a submission earns nothing this window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    /// No submission by the deadline.
    Missing,
    /// Larger than the run's cap; not downloaded.
    TooLarge,
    /// Signature, run, window, kind or hash do not check out.
    BadEnvelope { detail: String },
    /// Built on a master other than the window's base.
    WrongBase,
    /// Uploaded before the window started.
    Early,
    /// Uploaded after the deadline.
    Late,
    /// The payload is not a valid delta for this model and codec.
    Undecodable { detail: String },
    /// Loss was not finite before or after applying the delta.
    NonFinite,
    /// Gained no more on its own pages than on the evaluation pages: it did not train on them.
    NotTrained,
    /// Too similar to a submission uploaded earlier by another miner.
    Copy { of: String },
}

/// The loss reduction a delta brings on the evaluation pages (never negative), but no more than
/// the evidence that its miner trained its own pages (its own pages' gain beyond the evaluation
/// pages'), or why it earns nothing. The cap is what keeps work that is not the miner's from
/// paying: another miner's delta, the network's own last step or noise lowers the loss on the
/// miner's pages no more than anywhere else, so whatever it adds to the evaluation gain it adds
/// nothing to the evidence; passing the check by a hair earns a hair.
pub fn score(m: &Measurement, spec: &ScoringSpec) -> Result<f64, Rejection> {
    let values = [m.eval_before, m.eval_after, m.own_before, m.own_after];
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Rejection::NonFinite);
    }
    // The evaluation pages are pages nobody trained on, so they double as the reference: a
    // miner that trained on its pages gains more there than on pages it never saw. Random
    // training pages were the reference before; two of them were noisier than the four
    // evaluation pages (honest miners were refused about once in 15 windows) and cost two
    // more forward passes per submission.
    let own_gain = m.own_before - m.own_after;
    let eval_gain = m.eval_before - m.eval_after;
    if own_gain - eval_gain <= spec.min_own_advantage {
        return Err(Rejection::NotTrained);
    }
    Ok(eval_gain.min(own_gain - eval_gain).max(0.0))
}

/// Zeroes the scores below `min_relative` of the window's best.
pub fn cut_below_best(scores: &mut [f64], min_relative: f64) {
    let best = scores.iter().copied().fold(0.0f64, f64::max);
    for s in scores.iter_mut() {
        if *s < min_relative * best {
            *s = 0.0;
        }
    }
}

/// Moves a miner's running score toward this window's (0 for a rejected or missing one).
pub fn smooth(previous: Option<f64>, this_window: f64, ema: f64) -> f64 {
    match previous {
        None => ema * this_window,
        Some(p) => ema * this_window + (1.0 - ema) * p,
    }
}

/// Weights for the chain: running scores normalised to sum to one (all zero if none is
/// positive).
pub fn weights(scores: &[f64]) -> Vec<f32> {
    let total: f64 = scores.iter().filter(|s| **s > 0.0).sum();
    scores
        .iter()
        .map(|&s| {
            if s > 0.0 && total > 0.0 {
                (s / total) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Cosine similarity of two deltas, accumulated in f64 in a fixed order.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ScoringSpec {
        crate::RunConfig::devnet(0).scoring
    }

    fn measured(eval: (f64, f64), own: (f64, f64)) -> Measurement {
        Measurement {
            eval_before: eval.0,
            eval_after: eval.1,
            own_before: own.0,
            own_after: own.1,
        }
    }

    #[test]
    fn honest_work_scores_its_loss_reduction() {
        let m = measured((5.0, 4.6), (5.0, 4.2));
        assert!((score(&m, &spec()).unwrap() - 0.4).abs() < 1e-12);
        // A delta that makes things worse scores zero, not a negative number.
        let m = measured((5.0, 5.2), (5.0, 4.9));
        assert_eq!(score(&m, &spec()).unwrap(), 0.0);
        // Mostly someone else's work (it helps every page alike), a little of its own: paid for
        // the little.
        let m = measured((5.0, 4.6), (5.0, 4.55));
        assert!((score(&m, &spec()).unwrap() - 0.05).abs() < 1e-12);
    }

    #[test]
    fn work_not_done_on_assigned_pages_is_rejected() {
        // Trained on other pages (say the public validation split): it helps the evaluation
        // pages as much as, or more than, its own.
        let elsewhere = measured((5.0, 4.6), (5.0, 4.7));
        assert_eq!(score(&elsewhere, &spec()), Err(Rejection::NotTrained));
        let lazy = measured((5.0, 5.0), (5.0, 5.0));
        assert_eq!(score(&lazy, &spec()), Err(Rejection::NotTrained));
        let noise = measured((5.0, 6.0), (5.0, 6.1));
        assert_eq!(score(&noise, &spec()), Err(Rejection::NotTrained));
        let nan = measured((5.0, f64::NAN), (5.0, 4.0));
        assert_eq!(score(&nan, &spec()), Err(Rejection::NonFinite));
    }

    #[test]
    fn scores_far_below_the_best_earn_nothing() {
        let mut scores = [0.1, 0.09, 0.002, 0.0];
        cut_below_best(&mut scores, 0.2);
        assert_eq!(scores, [0.1, 0.09, 0.0, 0.0]);
    }

    #[test]
    fn weights_and_smoothing() {
        assert_eq!(weights(&[0.0, 1.0, 3.0]), vec![0.0, 0.25, 0.75]);
        assert_eq!(weights(&[0.0, 0.0]), vec![0.0, 0.0]);
        assert_eq!(smooth(None, 1.0, 0.5), 0.5);
        assert_eq!(smooth(Some(0.5), 0.0, 0.5), 0.25);
    }
}
