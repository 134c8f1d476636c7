//! Scoring: how much a delta lowers the base master's loss on pages no miner could know, and
//! whether its miner did the work it was assigned. Every number here is computed from
//! measurements passed in, so two validators with the same measurements agree exactly.

use serde::{Deserialize, Serialize};

use crate::config::ScoringSpec;

/// One page's loss on the base master and with the delta added.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageLoss {
    pub before: f64,
    pub after: f64,
}

impl PageLoss {
    pub fn gain(&self) -> f64 {
        self.before - self.after
    }
}

/// Losses a validator measured for one submission, on the base master before and after
/// applying the delta, page by page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The window's evaluation pages, drawn after the window closed (training pages the miner
    /// was assigned left out, where they come from the training split).
    pub eval: Vec<PageLoss>,
    /// The miner's own assigned pages the window's seed picked.
    pub own: Vec<PageLoss>,
    /// Other submissions' measured vectors on the same pages, as references for the
    /// own-page check ([`crate::judging::controls`] picks them): page by page, what a delta
    /// that did not train these pages gains on them. Empty: the gains are compared raw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<Control>,
}

/// Another delta's loss reductions on a judged miner's pages, aligned with its
/// [`Measurement::eval`] and [`Measurement::own`]; `None` on a page the control's miner was
/// assigned in this window or the two before (its delta carries that work: no reference there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Control {
    pub eval: Vec<Option<f64>>,
    pub own: Vec<Option<f64>>,
}

impl Measurement {
    /// Mean loss reduction on the evaluation pages.
    pub fn eval_gain(&self) -> f64 {
        mean_gain(&self.eval)
    }

    /// Mean loss reduction on the own pages.
    pub fn own_gain(&self) -> f64 {
        mean_gain(&self.own)
    }

    /// Each page's gain less a reference gain on it, for the own pages and the evaluation
    /// pages. A page's content decides most of what any delta gains on it; a control gains
    /// that part too, so what is left is what this delta adds on the page beyond a delta that
    /// did not train it.
    ///
    /// The reference is the control that best explains this delta's gains on the evaluation
    /// pages, where the judged miner did no work ([`best_reference`]): its gains times the
    /// least-squares factor. A control that explains them no better than a constant (noise, a
    /// delta that learned nothing) is no reference, nor one without a gain on every own page
    /// or on half the evaluation pages (it stands aside on pages its miner trained lately);
    /// evaluation pages where the reference stands aside are left out. With no reference, the
    /// gains are compared raw.
    pub fn paired_gains(&self) -> PairedGains {
        let raw = |pages: &[PageLoss]| pages.iter().map(PageLoss::gain).collect::<Vec<_>>();
        let (own, eval) = (raw(&self.own), raw(&self.eval));
        let Some((factor, control)) = best_reference(&eval, &self.controls) else {
            return PairedGains { own, eval };
        };
        let less = |gains: Vec<f64>, reference: &[Option<f64>]| {
            gains
                .iter()
                .zip(reference)
                .filter_map(|(g, r)| r.map(|r| g - factor * r))
                .collect()
        };
        PairedGains {
            own: less(own, &control.own),
            eval: less(eval, &control.eval),
        }
    }

    fn all_finite(&self) -> bool {
        let losses = self
            .own
            .iter()
            .chain(&self.eval)
            .flat_map(|p| [p.before, p.after]);
        let controls = self
            .controls
            .iter()
            .flat_map(|c| c.own.iter().chain(&c.eval).copied().flatten());
        losses.chain(controls).all(f64::is_finite)
    }
}

/// Gains of a [`Measurement`]'s pages, less the controls' ([`Measurement::paired_gains`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PairedGains {
    pub own: Vec<f64>,
    pub eval: Vec<f64>,
}

impl PairedGains {
    /// Mean own-page gain beyond the evaluation pages': the evidence of work on the own pages.
    pub fn advantage(&self) -> f64 {
        mean(&self.own) - mean(&self.eval)
    }

    /// Pairs of an own page and an evaluation page where the own page did not gain more.
    pub fn inversions(&self) -> usize {
        self.own
            .iter()
            .map(|o| self.eval.iter().filter(|&&r| *o <= r).count())
            .sum()
    }
}

fn mean_gain(pages: &[PageLoss]) -> f64 {
    pages.iter().map(PageLoss::gain).sum::<f64>() / pages.len().max(1) as f64
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Largest factor a control's gains are scaled by: a control that gained almost nothing
/// would otherwise stand, scaled up, for a page pattern it only holds by chance.
const MAX_REFERENCE_FACTOR: f64 = 4.0;

/// Of `controls` with a gain on every own page and on at least half the evaluation pages, the
/// one whose gains, times their least-squares factor (in `(0, MAX_REFERENCE_FACTOR]`), leave
/// the smallest residual of `eval` (the judged delta's evaluation-page gains) on the pages it
/// has, if that residual is below a constant's there (the spread about their mean); ties to
/// the earlier control. Returns the factor and the control.
fn best_reference<'c>(eval: &[f64], controls: &'c [Control]) -> Option<(f64, &'c Control)> {
    let mut best: Option<(f64, f64, &Control)> = None;
    for control in controls {
        let pairs: Vec<(f64, f64)> = eval
            .iter()
            .zip(&control.eval)
            .filter_map(|(&g, c)| c.map(|c| (g, c)))
            .collect();
        if control.eval.len() != eval.len()
            || 2 * pairs.len() < eval.len()
            || pairs.is_empty()
            || control.own.iter().any(Option::is_none)
        {
            continue;
        }
        let cc: f64 = pairs.iter().map(|(_, c)| c * c).sum();
        let gc: f64 = pairs.iter().map(|(g, c)| g * c).sum();
        if cc <= 0.0 || gc <= 0.0 {
            continue;
        }
        let factor = (gc / cc).min(MAX_REFERENCE_FACTOR);
        let mean_g = pairs.iter().map(|(g, _)| g).sum::<f64>() / pairs.len() as f64;
        let constant: f64 = pairs.iter().map(|(g, _)| (g - mean_g).powi(2)).sum();
        let residual: f64 = pairs.iter().map(|(g, c)| (g - factor * c).powi(2)).sum();
        // Compared per page: controls may stand aside on different pages.
        let per_page = residual / pairs.len() as f64;
        if residual < constant && best.is_none_or(|(r, _, _)| per_page < r) {
            best = Some((per_page, factor, control));
        }
    }
    best.map(|(_, factor, control)| (factor, control))
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
/// the evidence that its miner trained its own pages (their mean gain beyond the evaluation
/// pages'), or why it earns nothing. `vouched`: the miner's delta of the previous window
/// passed the rank test ([`vouches`]), which earns it the run's looser allowance.
///
/// Where the run sets `own_page_inversions`, a rank test (Mann-Whitney's, counted) comes
/// first: own pages must gain more than evaluation pages in every pair but at most that many.
/// The evaluation pages are the reference: drawn from the training split
/// (`EvalSplit::Training`) after the window closed, they are pages like the own ones that the
/// miner did not train, so a delta that did no work on its pages passes by chance with a
/// probability set by the page counts alone (2 in 495 for 4 own and 8 evaluation pages with one
/// inversion: [`chance_pass`]), whatever its size or direction and with no threshold in units of
/// loss; one trained on part of its pages (a token step, work on one page) fails on the others.
///
/// Where there are controls, the tests compare gains less a reference's
/// ([`Measurement::paired_gains`]): what another delta of the window gains on the same page;
/// the cap does not. Raw, a page's content set most of its gain (pages of
/// window 0 gained 2.7 to 3.2 from any delta, training a page added about 0.2) and honest
/// deltas of a loaded devnet failed; paired, the page's part cancels and training shows. The
/// controls did not train the judged miner's pages, so without work the paired gains of own
/// and evaluation pages are still alike and the chance of a pass about the same.
///
/// Late in a run an honest delta is weak and its pages' gains noisy: it shows an inversion or a
/// few (up to 5 of 32 in a default devnet, docs/protocol.md). A miner whose delta passed the
/// rank test in its previous window is allowed `own_page_inversions_vouched`: a delta that did
/// no work gets there only through a strict pass first (2 in 495 without work), then keeps
/// passing at the looser chance (27 in 495 for 6 inversions) as long as it does; a miner
/// that worked and then stopped passes at that chance until its first refusal.
///
/// The cap keeps work that is not the miner's from paying: another miner's delta or the
/// network's own last step lowers the loss on the miner's pages no more than on other training
/// pages, so whatever it adds to the evaluation gain it adds nothing to the evidence, and what
/// passes by chance is paid about nothing.
pub fn score(m: &Measurement, spec: &ScoringSpec, vouched: bool) -> Result<f64, Rejection> {
    if !m.all_finite() {
        return Err(Rejection::NonFinite);
    }
    let paired = m.paired_gains();
    let allowed = if vouched {
        spec.own_page_inversions_vouched
            .or(spec.own_page_inversions)
    } else {
        spec.own_page_inversions
    };
    let ranked_below = allowed.is_some_and(|allowed| paired.inversions() > allowed);
    if m.own.is_empty() || m.eval.is_empty() || ranked_below {
        return Err(Rejection::NotTrained);
    }
    if paired.advantage() <= spec.min_own_advantage {
        return Err(Rejection::NotTrained);
    }
    // The cap is the raw advantage: what a miner is paid must not move with what others
    // upload. A mix that holds an honest miner's delta, as its control, lowers its paired
    // advantage (`payment.rs`); it may not lower its pay.
    let eval_gain = m.eval_gain();
    let advantage = m.own_gain() - eval_gain;
    Ok(eval_gain.min(advantage).max(0.0))
}

/// Whether a delta's outcome (from [`score`], with the allowance that applied to it) vouches
/// for its miner in the next window: it passed the rank test. Without a rank test, never.
pub fn vouches(outcome: &Result<f64, Rejection>, spec: &ScoringSpec) -> bool {
    spec.own_page_inversions.is_some() && outcome.is_ok()
}

/// Pairs of an own page and an evaluation page where the own page did not gain more (less
/// the controls' gains, where there are controls).
pub fn inversions(m: &Measurement) -> usize {
    m.paired_gains().inversions()
}

/// The probability that `own` pages and `reference` (evaluation) pages whose gains are alike (no work on
/// the own pages, ties aside) show at most `allowed` inversions: the share of the
/// `C(own + reference, own)` equally likely rankings that do.
pub fn chance_pass(own: usize, reference: usize, allowed: usize) -> f64 {
    // ways[u]: rankings of the pages counted so far with u inversions (the partition
    // recurrence of Mann-Whitney's U).
    fn ways(own: usize, reference: usize, u: usize) -> f64 {
        if own == 0 || reference == 0 {
            return if u == 0 { 1.0 } else { 0.0 };
        }
        // The highest-ranked page is an own page (no inversion with any reference page) or a
        // reference page (an inversion with every own page).
        let top_own = ways(own - 1, reference, u);
        let top_reference = if u >= own {
            ways(own, reference - 1, u - own)
        } else {
            0.0
        };
        top_own + top_reference
    }
    let total: f64 = (0..=own * reference).map(|u| ways(own, reference, u)).sum();
    let passing: f64 = (0..=allowed.min(own * reference))
        .map(|u| ways(own, reference, u))
        .sum();
    passing / total
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

    /// The rank test as measured with `gradient bench quality`: 8 training pages, 4 own pages,
    /// one inversion.
    fn ranked() -> ScoringSpec {
        ScoringSpec {
            eval_pages: 8,
            eval_split: crate::config::EvalSplit::Training,
            own_pages: 4,
            own_page_inversions: Some(1),
            ..spec()
        }
    }

    fn page(before: f64, after: f64) -> PageLoss {
        PageLoss { before, after }
    }

    /// Own pages that each gained `own`, evaluation pages that each gained `eval`, from 5.
    fn measured(own: &[f64], eval: &[f64]) -> Measurement {
        Measurement {
            own: own.iter().map(|g| page(5.0, 5.0 - g)).collect(),
            eval: eval.iter().map(|g| page(5.0, 5.0 - g)).collect(),
            controls: vec![],
        }
    }

    /// Window 0 of a loaded two-miner devnet (CI, numbers as measured): raw, an honest miner's
    /// own pages out-gained all evaluation pages but one only narrowly and it was refused;
    /// less what the other miner's delta gained on the same pages, it passes.
    #[test]
    fn controls_take_the_pages_own_part_out() {
        let eval = [3.076, 3.093, 3.192, 3.143, 2.696, 3.228, 2.785, 3.046];
        let own = [3.249, 3.215, 3.211, 3.240];
        let raw = measured(&own, &eval);
        assert_eq!(inversions(&raw), 2);
        assert_eq!(score(&raw, &ranked(), false), Err(Rejection::NotTrained));
        // The other delta gained alike on the evaluation pages (its own measurement) and, not
        // having trained these own pages, about as a typical page on them.
        let some = |v: &[f64]| v.iter().map(|&g| Some(g)).collect::<Vec<_>>();
        let control = Control {
            eval: some(&[3.049, 3.071, 3.122, 3.127, 2.753, 3.225, 2.778, 2.961]),
            own: some(&[3.05, 3.02, 3.03, 3.06]),
        };
        let paired = Measurement {
            controls: vec![control.clone()],
            ..raw.clone()
        };
        assert_eq!(inversions(&paired), 0);
        assert!(score(&paired, &ranked(), false).unwrap() > 0.0);
        // A delta that did no work on its pages gains on them what the control does: refused
        // with controls as without.
        let lazy = Measurement {
            own: control
                .own
                .iter()
                .map(|g| page(5.0, 5.0 - g.unwrap() - 0.01))
                .collect(),
            controls: vec![control],
            ..raw
        };
        assert_eq!(score(&lazy, &ranked(), false), Err(Rejection::NotTrained));
    }

    #[test]
    fn the_reference_is_the_control_that_explains_the_evaluation_pages() {
        let some = |v: &[f64]| v.iter().map(|&g| Some(g)).collect::<Vec<_>>();
        let eval = [1.0, 1.2, 0.8, 1.1];
        // An honest control that learned half as much: its gains, doubled, are the reference.
        let honest = Control {
            eval: some(&eval.map(|g| g / 2.0)),
            own: some(&[0.5]),
        };
        // Noise gains nothing in the evaluation pages' pattern: no reference, in any order.
        let noise = Control {
            eval: some(&[-0.01, 0.02, 0.0, -0.005]),
            own: some(&[0.0]),
        };
        let with = |controls: Vec<Control>| Measurement {
            controls,
            ..measured(&[1.5], &eval)
        };
        let reference = |m: &Measurement| m.own[0].gain() - m.paired_gains().own[0];
        for m in [
            with(vec![honest.clone(), noise.clone()]),
            with(vec![noise.clone(), honest.clone()]),
        ] {
            assert!((reference(&m) - 1.0).abs() < 1e-12, "{m:?}");
            assert!(m.paired_gains().eval.iter().all(|g| g.abs() < 1e-12));
        }
        let alone = with(vec![noise.clone()]);
        assert_eq!(alone.paired_gains().own[0], alone.own[0].gain());
        // A control that gained almost nothing is not scaled up to stand for the pattern.
        let faint = Control {
            eval: some(&eval.map(|g| g / 100.0)),
            own: some(&[0.01]),
        };
        assert_eq!(reference(&with(vec![faint])), 0.0);
        // A control that trained the page lately stands aside; with none left, raw.
        let mut aside = honest.clone();
        aside.own[0] = None;
        assert_eq!(reference(&with(vec![aside.clone(), noise])), 0.0);
        assert!((reference(&with(vec![aside, honest.clone()])) - 1.0).abs() < 1e-12);
        // On an evaluation page it leaves that page out, while it has half of them.
        let mut partial = honest.clone();
        partial.eval[1] = None;
        assert_eq!(with(vec![partial.clone()]).paired_gains().eval.len(), 3);
        partial.eval[2] = None;
        partial.eval[3] = None;
        assert_eq!(reference(&with(vec![partial])), 0.0);
        let mut poisoned = with(vec![honest]);
        poisoned.controls[0].own[0] = Some(f64::NAN);
        assert_eq!(score(&poisoned, &spec(), false), Err(Rejection::NonFinite));
    }

    #[test]
    fn honest_work_scores_its_loss_reduction() {
        let m = measured(&[0.9, 0.8], &[0.4, 0.3]);
        assert!((score(&m, &spec(), false).unwrap() - 0.35).abs() < 1e-12);
        // A delta that makes things worse scores zero, not a negative number.
        let m = measured(&[0.1, 0.2], &[-0.2, -0.1]);
        assert_eq!(score(&m, &spec(), false).unwrap(), 0.0);
        // Mostly work that helps every page alike, a little of its own: paid for the little.
        let m = measured(&[0.46, 0.44], &[0.4, 0.4]);
        assert!((score(&m, &spec(), false).unwrap() - 0.05).abs() < 1e-12);
    }

    #[test]
    fn work_not_done_on_every_judged_page_is_rejected() {
        // Trained on other pages: the evaluation pages gain as much as its own.
        let elsewhere = measured(&[0.5, 0.4, 0.45], &[0.45, 0.5, 0.42]);
        assert_eq!(
            score(&elsewhere, &ranked(), false),
            Err(Rejection::NotTrained)
        );
        let lazy = measured(&[0.0, 0.0], &[0.0, 0.0]);
        assert_eq!(score(&lazy, &ranked(), false), Err(Rejection::NotTrained));
        // A token of work on one page, made large: a big mean advantage, three pages untouched.
        let token = measured(&[1.5, 0.05, 0.0, 0.02], &[0.1, 0.0, 0.03, 0.06]);
        assert_eq!(score(&token, &ranked(), false), Err(Rejection::NotTrained));
        // No pages to judge on is no evidence.
        let none = measured(&[], &[0.1]);
        assert_eq!(score(&none, &ranked(), false), Err(Rejection::NotTrained));
        let mut nan = measured(&[0.9, 0.8], &[0.4, 0.3]);
        nan.eval[1].after = f64::NAN;
        assert_eq!(score(&nan, &ranked(), false), Err(Rejection::NonFinite));
    }

    #[test]
    fn without_a_rank_test_the_mean_advantage_decides() {
        let mean_only = ScoringSpec {
            own_page_inversions: None,
            own_page_inversions_vouched: None,
            ..spec()
        };
        // Two inversions, a clear mean advantage: paid.
        let m = measured(&[0.8, 0.7], &[0.1, 0.85]);
        assert!((score(&m, &mean_only, false).unwrap() - 0.275).abs() < 1e-12);
        assert!(!vouches(&score(&m, &mean_only, false), &mean_only));
        let lazy = measured(&[0.3, 0.3], &[0.3, 0.3]);
        assert_eq!(score(&lazy, &mean_only, false), Err(Rejection::NotTrained));
    }

    #[test]
    fn a_pass_vouches_for_the_looser_allowance() {
        let devnet = spec();
        assert_eq!(devnet.own_page_inversions, Some(1));
        assert_eq!(devnet.own_page_inversions_vouched, Some(6));
        let clean = measured(&[0.6, 0.5, 0.55, 0.7], &[0.1, 0.2, 0.0, 0.15]);
        assert!(score(&clean, &devnet, false).is_ok());
        assert!(vouches(&score(&clean, &devnet, false), &devnet));
        // A weak late delta: two of its pages below the best evaluation page.
        let weak = measured(&[0.1, 0.1, 0.3, 0.4], &[0.05, 0.11, 0.13, 0.0]);
        assert_eq!(inversions(&weak), 4);
        assert_eq!(score(&weak, &devnet, false), Err(Rejection::NotTrained));
        assert!(score(&weak, &devnet, true).is_ok());
        // Passing the looser test vouches again; failing the strict one does not.
        assert!(vouches(&score(&weak, &devnet, true), &devnet));
        assert!(!vouches(&score(&weak, &devnet, false), &devnet));
        // Seven: refused even for a miner vouched for.
        let weaker = measured(&[0.1, 0.1, 0.3, 0.4], &[0.05, 0.11, 0.13, 0.35]);
        assert_eq!(inversions(&weaker), 7);
        assert_eq!(score(&weaker, &devnet, true), Err(Rejection::NotTrained));
        // No pages, no evidence: no vouching either.
        let none = measured(&[], &[0.1]);
        assert!(!vouches(&score(&none, &devnet, true), &devnet));
    }

    #[test]
    fn inversions_up_to_the_allowance_pass() {
        // Each own page beats each evaluation page: paid the evaluation gain, capped by the
        // mean advantage.
        let honest = measured(&[0.6, 0.5], &[0.15, 0.05]);
        assert!((score(&honest, &ranked(), false).unwrap() - 0.1).abs() < 1e-12);
        // One evaluation page gained more than one own page: within the allowance of one.
        let one = measured(&[0.8, 0.7], &[0.1, 0.75]);
        assert_eq!(inversions(&one), 1);
        assert!(score(&one, &ranked(), false).is_ok());
        // Two: not shown to be work.
        let two = measured(&[0.8, 0.7], &[0.1, 0.85]);
        assert_eq!(inversions(&two), 2);
        assert_eq!(score(&two, &ranked(), false), Err(Rejection::NotTrained));
    }

    #[test]
    fn chance_of_passing_without_work() {
        // 4 and 4: 1 ranking in 70 has no inversion, 1 more has one, 2 more have two.
        assert!((chance_pass(4, 4, 0) - 1.0 / 70.0).abs() < 1e-15);
        assert!((chance_pass(4, 4, 1) - 2.0 / 70.0).abs() < 1e-15);
        assert!((chance_pass(4, 4, 2) - 4.0 / 70.0).abs() < 1e-15);
        assert_eq!(chance_pass(4, 4, 16), 1.0);
        assert!((chance_pass(2, 3, 0) - 0.1).abs() < 1e-15);
        // The measured allowance, as docs/protocol.md quotes it.
        let s = ranked();
        let p = chance_pass(s.own_pages, s.eval_pages, s.own_page_inversions.unwrap());
        assert!((p - 2.0 / 495.0).abs() < 1e-15, "{p}");
        // The devnet run's: strict, and for a miner vouched for.
        let d = spec();
        let strict = chance_pass(d.own_pages, d.eval_pages, d.own_page_inversions.unwrap());
        assert!((strict - 2.0 / 495.0).abs() < 1e-15, "{strict}");
        let loose = chance_pass(
            d.own_pages,
            d.eval_pages,
            d.own_page_inversions_vouched.unwrap(),
        );
        assert!((loose - 27.0 / 495.0).abs() < 1e-12, "{loose}");
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
