//! Judging a window as one pure step: from what a validator fetched and measured, every
//! verdict, score and the aggregate's members. A validator does only I/O around it:
//!
//! 1. [`plan`]: from each submission's checks, upload order and the dot products of the
//!    decoded deltas, which to measure, on what vector (the delta, or the part of it no
//!    earlier delta explains) and at what length.
//! 2. The validator measures each planned vector (`scale x (delta - sum c_k delta_k)` added at
//!    `delta_weight` to the master) on the evaluation pages and the miner's own pages, and on
//!    the own pages of the miners whose [`controls`] it is.
//! 3. [`decide`]: scores from the measurements (the own-page check, the cut below the best),
//!    then the submissions the next master is made of and their weights.
//!
//! Why the rules are these (docs/protocol.md has the threat table):
//! - A delta is measured at a length no miner of the window controls: the length of the last
//!   outer step (the norm of master w minus master w-1) over its outer rate. A miner that
//!   multiplies its delta by any factor is measured on the same vector, so inflating pays
//!   nothing (and shrinking nothing either). Only the first two windows use the median norm
//!   of their submissions: window 0 has no outer step yet, and window 1's is the step from
//!   the random genesis master ([`measuring_norm`]).
//! - A later upload that overlaps an earlier delta (cosine above `overlap_similarity`, with a
//!   submission seen earlier in the window or a member of the previous aggregate) is judged
//!   only on its residual: the projection on those earlier deltas is removed before measuring,
//!   and the residual keeps the scale of the whole, so the part taken from others earns nothing.
//!   Such a submission is never aggregated (its earlier part is in the master already or will
//!   be). Above `copy_similarity` it is a copy and earns nothing.
//! - Upload order is the order in which the validator first saw each submission, never a time a
//!   miner's server writes.

use crate::aggregate::{clipped_weights, top_k, top_k_of};
use crate::config::{AggregationSpec, Average, Include, ScoringSpec};
use crate::scoring::{Measurement, Rejection, cut_below_best, score, vouches};

/// One miner's submission as the validator found it, before measuring.
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    pub hotkey: [u8; 32],
    /// How verdicts name the miner (its ss58 address).
    pub name: String,
    /// When this validator first saw it (its own clock): the upload order.
    pub first_seen_ms: u64,
    /// The checks' verdict (envelope, timing, decoding); for a decoded delta, its L2 norm.
    pub checked: Result<f64, Rejection>,
    /// The miner's delta of the previous window passed the rank test ([`Decision::vouches`]
    /// of that window), which earns it the looser allowance.
    pub vouched: bool,
}

/// Dot products between deltas, accumulated in f64: the previous aggregate's members first
/// (`earlier` of them), then the window's submissions in their given order. Entries of
/// submissions that did not decode are never read.
#[derive(Clone, Debug, PartialEq)]
pub struct Gram {
    pub earlier: usize,
    size: usize,
    values: Vec<f64>,
}

impl Gram {
    /// Dot products of `deltas` (each a list of tensors; `None` for one that did not decode),
    /// in a fixed order so every validator gets the same bits.
    pub fn of(earlier: usize, deltas: &[Option<&[Vec<f32>]>]) -> Gram {
        let size = deltas.len();
        let mut values = vec![0.0; size * size];
        for a in 0..size {
            for b in a..size {
                let (Some(x), Some(y)) = (deltas[a], deltas[b]) else {
                    continue;
                };
                let mut dot = 0.0f64;
                for (s, t) in x.iter().zip(y) {
                    for (&u, &v) in s.iter().zip(t) {
                        dot += u as f64 * v as f64;
                    }
                }
                values[a * size + b] = dot;
                values[b * size + a] = dot;
            }
        }
        Gram {
            earlier,
            size,
            values,
        }
    }

    /// `<delta a, delta b>` over earlier ++ submissions.
    pub fn dot(&self, a: usize, b: usize) -> f64 {
        self.values[a * self.size + b]
    }

    fn cosine(&self, a: usize, b: usize) -> f64 {
        let den = (self.dot(a, a) * self.dot(b, b)).sqrt();
        if den > 0.0 { self.dot(a, b) / den } else { 0.0 }
    }
}

/// What to do with one submission.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    Refused(Rejection),
    /// Measure `scale x (delta - sum coefficient x earlier delta)`; the earlier deltas are
    /// indices into the [`Gram`] (earlier ++ submissions). Only one without such a residual
    /// may be aggregated.
    Measure {
        scale: f64,
        residual: Vec<(usize, f64)>,
    },
}

impl Plan {
    pub fn aggregable(&self) -> bool {
        matches!(self, Plan::Measure { residual, .. } if residual.is_empty())
    }
}

/// The plan of a window: one [`Plan`] per submission, in the given order.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// The length every delta is measured at (before `delta_weight`).
    pub step_norm: f64,
    pub plans: Vec<Plan>,
}

/// The window's verdicts.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Per submission, its score (after the cut below the best) or why it earns nothing.
    pub outcomes: Vec<Result<f64, Rejection>>,
    /// The submissions the next master is made of, best first, and the weight each is
    /// summed with (the median-norm clip and `1/n`).
    pub members: Vec<usize>,
    pub weights: Vec<f32>,
    /// Per submission, whether it passed the rank test
    /// ([`scoring::vouches`](crate::scoring::vouches)): the next window's
    /// `Submission::vouched` of its miner.
    pub vouches: Vec<bool>,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}

/// Submissions in upload order: first seen first, ties by hotkey.
pub fn upload_order(submissions: &[Submission]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..submissions.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&submissions[a], &submissions[b]);
        x.first_seen_ms
            .cmp(&y.first_seen_ms)
            .then(x.hotkey.cmp(&y.hotkey))
    });
    order
}

/// The last outer step's norm as the length window `window`'s deltas are measured at
/// ([`plan`]), or 0 where it is no measure of them and [`plan`] takes the window's median norm
/// instead: in window 0 there is no step yet, and in window 1 the step is the one away from
/// the random genesis master, several times longer than any later delta (165 against deltas
/// of 37 in `gradient bench quality --miners 5 --windows 2 --steps-per-window 45
/// --pages-per-window 30`): measured at it, window 1's honest deltas overshot and raised the
/// loss of every page, and one was refused.
///
/// The step is divided by its outer rate (`aggregation.outer_lr_at(window - 1)`): the length
/// is the mean delta's, so that a run stepping further than the miners' mean does not measure
/// each delta further too.
pub fn measuring_norm(window: u64, last_step_norm: f64, aggregation: &AggregationSpec) -> f64 {
    if window < 2 {
        return 0.0;
    }
    last_step_norm / f64::from(aggregation.outer_lr_at(window - 1))
}

/// Step 1: what to measure. `earlier` are the hotkeys of the previous aggregate's members (the
/// first deltas of `gram`; a miner's own earlier delta is not held against it: it may start
/// from it). `last_step_norm` is the norm of master w minus master w-1 (0 when there is none
/// yet).
pub fn plan(
    submissions: &[Submission],
    earlier: &[[u8; 32]],
    gram: &Gram,
    last_step_norm: f64,
    spec: &ScoringSpec,
) -> Planned {
    let e = gram.earlier;
    assert_eq!(e, earlier.len(), "the gram starts with the earlier deltas");
    let mut plans: Vec<Option<Plan>> = vec![None; submissions.len()];
    let mut seen: Vec<usize> = (0..e).collect();
    for i in upload_order(submissions) {
        let norm = match &submissions[i].checked {
            Err(why) => {
                plans[i] = Some(Plan::Refused(why.clone()));
                continue;
            }
            Ok(norm) => *norm,
        };
        let me = e + i;
        if !norm.is_finite() {
            plans[i] = Some(Plan::Refused(Rejection::NonFinite));
            continue;
        }
        let mine = submissions[i].hotkey;
        let similar: Vec<(usize, f64)> = seen.iter().map(|&j| (j, gram.cosine(me, j))).collect();
        seen.push(me);
        if norm == 0.0 {
            // Changes nothing, so it cannot have trained.
            plans[i] = Some(Plan::Refused(Rejection::NotTrained));
            continue;
        }
        if let Some(&(j, _)) = similar.iter().find(|(_, c)| *c > spec.copy_similarity) {
            let of = if j < e {
                format!("member {j} of the previous aggregate")
            } else {
                submissions[j - e].name.clone()
            };
            plans[i] = Some(Plan::Refused(Rejection::Copy { of }));
            continue;
        }
        // A miner may continue its own last delta (it starts from it), so only others' count
        // as overlap; its own, resubmitted, is still a copy.
        let overlapping: Vec<usize> = similar
            .iter()
            .filter(|&&(j, _)| j >= e || earlier[j] != mine)
            .filter(|(_, c)| *c > spec.overlap_similarity)
            .map(|&(j, _)| j)
            .collect();
        plans[i] = Some(Plan::Measure {
            scale: 1.0 / norm,
            residual: projection(gram, me, &overlapping),
        });
    }
    let step_norm = if last_step_norm > 0.0 && last_step_norm.is_finite() {
        last_step_norm
    } else {
        median(
            plans
                .iter()
                .zip(submissions)
                .filter(|(p, _)| matches!(p, Some(Plan::Measure { .. })))
                .filter_map(|(_, s)| s.checked.as_ref().ok().copied())
                .collect(),
        )
    };
    let plans = plans
        .into_iter()
        .map(|p| match p.expect("every submission planned") {
            Plan::Measure { scale, residual } => Plan::Measure {
                scale: scale * step_norm,
                residual,
            },
            refused => refused,
        })
        .collect();
    Planned { step_norm, plans }
}

/// For each submission, the other submissions whose measured vectors are the references of
/// its own-page check ([`Measurement::controls`]): for a submission `needed` marks, up to
/// `count` of the others that are measured, those whose miners are vouched for first (they
/// showed work in the previous window, so a griefing control must have passed the strict test),
/// then the rest, each group in an order the window's `seed` fixes per pair, so no miner knows
/// while training whose reference it will be. The others have none. The validator measures
/// each control's vector on the judged miner's own pages too.
pub fn controls(
    submissions: &[Submission],
    planned: &Planned,
    seed: &[u8; 32],
    count: usize,
    needed: &[bool],
) -> Vec<Vec<usize>> {
    let measured: Vec<usize> = (0..submissions.len())
        .filter(|&i| matches!(planned.plans[i], Plan::Measure { .. }))
        .collect();
    (0..submissions.len())
        .map(|i| {
            if !measured.contains(&i) || !needed.get(i).copied().unwrap_or(false) {
                return Vec::new();
            }
            let mut others: Vec<(bool, blake3::Hash, usize)> = measured
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| {
                    let mut h = blake3::Hasher::new_derive_key("gradient own-page controls v1");
                    h.update(seed);
                    h.update(&submissions[i].hotkey);
                    h.update(&submissions[j].hotkey);
                    (!submissions[j].vouched, h.finalize(), j)
                })
                .collect();
            others.sort_by(|a, b| {
                (a.0.cmp(&b.0))
                    .then(a.1.as_bytes().cmp(b.1.as_bytes()))
                    .then(a.2.cmp(&b.2))
            });
            others.into_iter().take(count).map(|(_, _, j)| j).collect()
        })
        .collect()
}

/// The measured submissions whose own-page check fails on raw gains (`measured` without
/// controls): those get controls ([`controls`]). A page's content decides most of what a delta
/// gains on it, and can hide the work on the own pages (window 0 of a devnet, long windows, the
/// weak deltas late in a run); a delta that shows its work raw needs no more pages judged, so a
/// run where honest deltas pass raw costs the validator nothing more.
pub fn needs_controls(
    submissions: &[Submission],
    planned: &Planned,
    measured: &[Option<Measurement>],
    scoring: &ScoringSpec,
) -> Vec<bool> {
    planned
        .plans
        .iter()
        .zip(outcomes(submissions, planned, measured, scoring))
        .map(|(plan, outcome)| {
            matches!(plan, Plan::Measure { .. }) && outcome == Err(Rejection::NotTrained)
        })
        .collect()
}

/// Each submission's score before the cut, or why it earns nothing: the plan's refusal, or
/// the own-page check and score on what was measured.
fn outcomes(
    submissions: &[Submission],
    planned: &Planned,
    measured: &[Option<Measurement>],
    scoring: &ScoringSpec,
) -> Vec<Result<f64, Rejection>> {
    planned
        .plans
        .iter()
        .zip(measured)
        .zip(submissions)
        .map(|((plan, m), sub)| match (plan, m) {
            (Plan::Refused(why), _) => Err(why.clone()),
            (Plan::Measure { .. }, Some(m)) => score(m, scoring, sub.vouched),
            (Plan::Measure { .. }, None) => Err(Rejection::NonFinite),
        })
        .collect()
}

/// Coefficients `c` with `delta_me - sum c_k delta_k` orthogonal to every delta in `onto`
/// (Gram-Schmidt on dot products, in the given order; a delta the earlier ones already span is
/// skipped).
fn projection(gram: &Gram, me: usize, onto: &[usize]) -> Vec<(usize, f64)> {
    // Orthonormal basis vectors, each as coefficients over `onto`.
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let dot_combo = |a: &[f64], b: &[f64]| -> f64 {
        let mut s = 0.0;
        for (x, &j) in a.iter().zip(onto) {
            for (y, &k) in b.iter().zip(onto) {
                s += x * y * gram.dot(j, k);
            }
        }
        s
    };
    for (n, &j) in onto.iter().enumerate() {
        let mut v = vec![0.0; onto.len()];
        v[n] = 1.0;
        for q in &basis {
            let along = dot_combo(&v, q);
            v.iter_mut().zip(q).for_each(|(x, y)| *x -= along * y);
        }
        let length = dot_combo(&v, &v);
        if length <= 1e-12 * gram.dot(j, j) || length <= 0.0 {
            continue;
        }
        let inv = 1.0 / length.sqrt();
        v.iter_mut().for_each(|x| *x *= inv);
        basis.push(v);
    }
    let mut coefficients = vec![0.0; onto.len()];
    for q in &basis {
        let along: f64 = q.iter().zip(onto).map(|(x, &k)| x * gram.dot(me, k)).sum();
        coefficients
            .iter_mut()
            .zip(q)
            .for_each(|(c, y)| *c += along * y);
    }
    onto.iter().copied().zip(coefficients).collect()
}

/// Step 3: scores, then the aggregate. `measured[i]` is the measurement of plan `i`'s vector
/// (`None` for a refused one); `norms` are the submissions' norms for the aggregate's clip.
pub fn decide(
    submissions: &[Submission],
    planned: &Planned,
    measured: &[Option<Measurement>],
    scoring: &ScoringSpec,
    aggregation: &AggregationSpec,
) -> Decision {
    let mut outcomes = outcomes(submissions, planned, measured, scoring);
    let vouched_next = outcomes.iter().map(|o| vouches(o, scoring)).collect();
    let mut raw: Vec<f64> = outcomes
        .iter()
        .map(|o| *o.as_ref().unwrap_or(&0.0))
        .collect();
    let gained: Vec<bool> = raw.iter().map(|&s| s > 0.0).collect();
    cut_below_best(&mut raw, scoring.min_relative_score);
    for (o, &s) in outcomes.iter_mut().zip(&raw) {
        if let Ok(score) = o {
            *score = s;
        }
    }
    let keys: Vec<[u8; 32]> = submissions.iter().map(|s| s.hotkey).collect();
    // Passed every check and the own-page check, and not judged on a residual.
    let passed: Vec<bool> = planned
        .plans
        .iter()
        .zip(&outcomes)
        .map(|(p, o)| p.aggregable() && o.is_ok())
        .collect();
    let aggregable: Vec<bool> = passed.iter().zip(&gained).map(|(&p, &g)| p && g).collect();
    let members = match aggregation.include {
        Include::Positive => {
            let eligible: Vec<f64> = raw
                .iter()
                .zip(&aggregable)
                .map(|(&s, &a)| if a { s } else { 0.0 })
                .collect();
            top_k(&eligible, &keys, aggregation.top_k)
        }
        Include::Accepted => top_k_of(&raw, &aggregable, &keys, aggregation.top_k),
        Include::Trained => top_k_of(&raw, &passed, &keys, aggregation.top_k),
    };
    let norms: Vec<f64> = members
        .iter()
        .map(|&i| *submissions[i].checked.as_ref().unwrap_or(&0.0))
        .collect();
    let mut weights = clipped_weights(&norms);
    // No member enters the aggregate at more weight than it was judged at: with fewer members
    // than `1/delta_weight`, each is added at `delta_weight`, not as a larger share of a mean.
    // A lone member at full size raised a quality run's master by 0.49 where, judged at a
    // third, it had lowered the loss (crates/node/tests/quality.rs, window 5 of 10).
    let judged_at = (scoring.delta_weight * members.len() as f64).min(1.0) as f32;
    weights.iter_mut().for_each(|w| *w *= judged_at);
    if aggregation.average == Average::Support {
        // The support count divides afterwards, per coordinate.
        let n = weights.len() as f32;
        weights.iter_mut().for_each(|w| *w *= n);
    }
    Decision {
        outcomes,
        members,
        weights,
        vouches: vouched_next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunConfig;
    use crate::scoring::PageLoss;

    fn submission(key: u8, seen: u64, delta: Option<&[Vec<f32>]>) -> Submission {
        let norm = delta.map(|d| {
            d.iter()
                .flatten()
                .map(|&x| (x as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        });
        Submission {
            hotkey: [key; 32],
            name: format!("miner {key}"),
            first_seen_ms: seen,
            checked: norm.ok_or(Rejection::Late),
            vouched: false,
        }
    }

    fn planned(deltas: &[Option<Vec<Vec<f32>>>], seen: &[u64], spec: &ScoringSpec) -> Planned {
        let views: Vec<Option<&[Vec<f32>]>> = deltas.iter().map(|d| d.as_deref()).collect();
        let subs: Vec<Submission> = views
            .iter()
            .zip(seen)
            .enumerate()
            .map(|(i, (d, &s))| submission(i as u8, s, *d))
            .collect();
        plan(&subs, &[], &Gram::of(0, &views), 2.0, spec)
    }

    fn spec() -> ScoringSpec {
        let mut spec = RunConfig::devnet(0).scoring;
        spec.overlap_similarity = 0.8;
        spec
    }

    #[test]
    fn a_delta_is_measured_at_the_same_vector_whatever_its_scale() {
        let a = vec![vec![1.0f32, 2.0, -1.0], vec![0.5]];
        let b = vec![vec![-1.0f32, 0.5, 2.0], vec![1.0]];
        for k in [0.5f32, 2.0, 10.0, 1e-3] {
            let scaled: Vec<Vec<f32>> = b
                .iter()
                .map(|t| t.iter().map(|x| x * k).collect())
                .collect();
            let one = planned(&[Some(a.clone()), Some(b.clone())], &[1, 2], &spec());
            let many = planned(&[Some(a.clone()), Some(scaled)], &[1, 2], &spec());
            let (Plan::Measure { scale: s1, .. }, Plan::Measure { scale: sk, .. }) =
                (&one.plans[1], &many.plans[1])
            else {
                panic!("{one:?} {many:?}");
            };
            // scale x delta is the same vector: the delta's direction at the step's length.
            assert!((s1 - sk * k as f64).abs() < 1e-9 * s1, "{k}: {s1} vs {sk}");
            assert_eq!(one.step_norm, 2.0);
        }
    }

    #[test]
    fn controls_are_other_measured_submissions_picked_by_the_seed() {
        let d = |x: f32| Some(vec![vec![x, 1.0 - x, 0.5 * x, 0.3]]);
        let views = [d(1.0), d(0.1), None, d(-1.0), d(0.6), d(0.3)];
        let p = planned(&views, &[1, 2, 3, 4, 5, 6], &spec());
        let subs: Vec<Submission> = views
            .iter()
            .enumerate()
            .map(|(i, v)| submission(i as u8, 0, v.as_deref()))
            .collect();
        let measured = |i: usize| matches!(p.plans[i], Plan::Measure { .. });
        let all = [true; 6];
        let c = controls(&subs, &p, &[7; 32], 3, &all);
        for (i, mine) in c.iter().enumerate() {
            if !measured(i) {
                assert!(mine.is_empty());
                continue;
            }
            assert_eq!(mine.len(), 3, "{i}: {mine:?}");
            assert!(mine.iter().all(|&j| j != i && measured(j)), "{i}: {mine:?}");
        }
        // The same seed, the same controls; a window's other seed draws others.
        assert_eq!(controls(&subs, &p, &[7; 32], 3, &all), c);
        let seeds: Vec<_> = (0..8u8)
            .map(|k| controls(&subs, &p, &[k; 32], 3, &all))
            .collect();
        assert!(seeds.iter().any(|other| *other != seeds[0]));
        // Fewer others than asked for: all of them.
        assert_eq!(controls(&subs, &p, &[7; 32], 9, &all)[0].len(), 4);

        // Only a submission that needs them has controls; vouched ones are controls first.
        let mut vouched = subs.clone();
        vouched[4].vouched = true;
        vouched[5].vouched = true;
        let needed = [true, true, true, true, false, true];
        for seed in 0..8u8 {
            let c = controls(&vouched, &p, &[seed; 32], 2, &needed);
            assert!(c[4].is_empty() && c[2].is_empty(), "{c:?}");
            assert_eq!(c[5].len(), 2, "{c:?}");
            assert!(c[5].contains(&4), "the vouched control first: {c:?}");
            for i in [0, 1, 3] {
                let mut mine = c[i].clone();
                mine.sort();
                assert_eq!(mine, vec![4, 5], "{i}: {c:?}");
            }
        }
    }

    #[test]
    fn only_deltas_that_fail_the_raw_check_need_controls() {
        let d = |x: f32| Some(vec![vec![x, 1.0 - x, 0.5 * x, 0.3]]);
        let views = [d(1.0), d(-1.0), d(0.2), None];
        let p = planned(&views, &[1, 2, 3, 4], &spec());
        let mut subs: Vec<Submission> = views
            .iter()
            .enumerate()
            .map(|(i, v)| submission(i as u8, 0, v.as_deref()))
            .collect();
        // Own pages that each gained `own`, eight evaluation pages that gained 1.0 to 1.7.
        let m = |own: f64| {
            Some(Measurement {
                eval: (0..8)
                    .map(|k| PageLoss {
                        before: 5.0,
                        after: 4.0 - 0.1 * k as f64,
                    })
                    .collect(),
                own: vec![
                    PageLoss {
                        before: 5.0,
                        after: 5.0 - own,
                    };
                    4
                ],
                controls: vec![],
            })
        };
        // Above every evaluation page; below two of them (2 x 4 inversions); a refusal.
        let raw = [m(1.8), m(1.55), m(1.55), None];
        let needs = |subs: &[Submission]| needs_controls(subs, &p, &raw, &spec());
        assert_eq!(needs(&subs), vec![false, true, true, false]);
        // 8 inversions: over the vouched allowance (6) too.
        subs[2].vouched = true;
        assert_eq!(needs(&subs), vec![false, true, true, false]);
        let raw = [m(1.8), m(1.65), m(1.65), None];
        let needs = needs_controls(&subs, &p, &raw, &spec());
        assert_eq!(
            needs,
            vec![false, true, false, false],
            "4 inversions pass vouched"
        );
    }

    #[test]
    fn the_later_upload_is_the_copy_whatever_its_index() {
        let a = vec![vec![1.0f32, 2.0, -1.0, 0.3]];
        let copy = vec![vec![1.01f32, 2.0, -1.0, 0.3]];
        let p = planned(&[Some(copy), Some(a)], &[20, 10], &spec());
        assert!(matches!(&p.plans[0], Plan::Refused(Rejection::Copy { of }) if of == "miner 1"));
        assert!(p.plans[1].aggregable());
    }

    #[test]
    fn an_overlapping_later_upload_is_measured_on_its_residual_and_not_aggregated() {
        let a = vec![vec![1.0f32, 0.0, 0.0, 1.0]];
        let own = [vec![0.0f32, 1.0, 0.0, 0.2]];
        // own + a: cosine 0.84 with a, above the overlap threshold and below a copy's.
        let mixed: Vec<Vec<f32>> = vec![own[0].iter().zip(&a[0]).map(|(x, y)| x + y).collect()];
        let deltas = [Some(a.clone()), Some(mixed.clone())];
        let p = planned(&deltas, &[1, 2], &spec());
        let Plan::Measure { scale, residual } = &p.plans[1] else {
            panic!("{p:?}");
        };
        assert!(!p.plans[1].aggregable());
        assert_eq!(residual.len(), 1);
        // The residual is orthogonal to the earlier delta, and is exactly the own part's
        // component orthogonal to it.
        let r: Vec<f32> = mixed[0]
            .iter()
            .zip(&a[0])
            .map(|(m, x)| m - residual[0].1 as f32 * x)
            .collect();
        let dot: f32 = r.iter().zip(&a[0]).map(|(x, y)| x * y).sum();
        assert!(dot.abs() < 1e-5, "{dot}");
        let norm_mixed = (mixed[0].iter().map(|x| x * x).sum::<f32>()).sqrt() as f64;
        assert!((scale - 2.0 / norm_mixed).abs() < 1e-6, "{scale}");
        // The earlier upload is untouched.
        assert_eq!(
            p.plans[0],
            Plan::Measure {
                scale: 2.0 / 2f64.sqrt(),
                residual: vec![]
            }
        );
    }

    #[test]
    fn a_miners_own_earlier_delta_is_not_overlap_but_resent_it_is_a_copy() {
        let before = vec![vec![1.0f32, 0.0, 0.0, 1.0]];
        // Cosine 0.86 with `before`: overlap, not a copy.
        let now = vec![vec![1.0f32, 0.6, 0.0, 0.6]];
        let views: Vec<Option<&[Vec<f32>]>> = vec![Some(&before), Some(&now)];
        let gram = Gram::of(1, &views);
        let mine = submission(7, 1, Some(&now));
        let p = plan(std::slice::from_ref(&mine), &[[7; 32]], &gram, 1.0, &spec());
        assert!(p.plans[0].aggregable(), "its own: {p:?}");
        let p = plan(std::slice::from_ref(&mine), &[[8; 32]], &gram, 1.0, &spec());
        assert!(
            matches!(&p.plans[0], Plan::Measure { residual, .. } if residual.len() == 1),
            "another's: {p:?}"
        );
        // Its own earlier delta sent again is a copy all the same.
        let views: Vec<Option<&[Vec<f32>]>> = vec![Some(&before), Some(&before)];
        let again = submission(7, 1, Some(&before));
        let p = plan(&[again], &[[7; 32]], &Gram::of(1, &views), 1.0, &spec());
        assert!(
            matches!(&p.plans[0], Plan::Refused(Rejection::Copy { of }) if of.contains("previous aggregate")),
            "{p:?}"
        );
    }

    #[test]
    fn the_step_from_the_genesis_master_is_no_measure() {
        // Windows 0 and 1: the median norm (0 asks for it); later, the last outer step over
        // its rate (set here, whatever the devnet run's default).
        let mut aggregation = RunConfig::devnet(0).aggregation;
        aggregation.outer_lr = 1.0;
        assert_eq!(measuring_norm(0, 0.0, &aggregation), 0.0);
        assert_eq!(measuring_norm(1, 165.0, &aggregation), 0.0);
        assert_eq!(measuring_norm(2, 33.0, &aggregation), 33.0);
        assert_eq!(measuring_norm(9, 4.5, &aggregation), 4.5);
        // A run that steps 1.5 times the mean delta measures at the mean's length.
        aggregation.outer_lr = 1.5;
        assert_eq!(measuring_norm(2, 33.0, &aggregation), 22.0);
    }

    #[test]
    fn refusals_pass_through_and_the_first_window_measures_at_the_median_norm() {
        let zero = vec![vec![0.0f32; 3]];
        let small = vec![vec![3.0f32, 0.0, 0.0]];
        let large = vec![vec![0.0f32, 40.0, 0.0]];
        let mid = vec![vec![0.0f32, 0.0, 5.0]];
        let deltas = [None, Some(zero), Some(small), Some(large), Some(mid)];
        let views: Vec<Option<&[Vec<f32>]>> = deltas.iter().map(|d| d.as_deref()).collect();
        let subs: Vec<Submission> = views
            .iter()
            .enumerate()
            .map(|(i, d)| submission(i as u8, i as u64, *d))
            .collect();
        let p = plan(&subs, &[], &Gram::of(0, &views), 0.0, &spec());
        assert_eq!(p.plans[0], Plan::Refused(Rejection::Late));
        assert_eq!(p.plans[1], Plan::Refused(Rejection::NotTrained));
        assert_eq!(p.step_norm, 5.0);
        let Plan::Measure { scale, .. } = p.plans[3] else {
            panic!()
        };
        assert!((scale * 40.0 - 5.0).abs() < 1e-12);
    }

    #[test]
    fn decide_scores_cuts_and_aggregates_only_clean_submissions() {
        let spec = spec();
        let mut run = RunConfig::devnet(0);
        run.aggregation.top_k = 3;
        run.aggregation.include = Include::Accepted;
        let subs: Vec<Submission> = (0..5)
            .map(|i| Submission {
                hotkey: [i; 32],
                name: format!("m{i}"),
                first_seen_ms: i as u64,
                checked: Ok(1.0 + i as f64),
                vouched: false,
            })
            .collect();
        let measure = Plan::Measure {
            scale: 1.0,
            residual: vec![],
        };
        let planned = Planned {
            step_norm: 1.0,
            plans: vec![
                measure.clone(),
                Plan::Measure {
                    scale: 1.0,
                    residual: vec![(0, 0.5)],
                },
                measure.clone(),
                Plan::Refused(Rejection::Late),
                measure.clone(),
            ],
        };
        // Own pages that gained `own_gain`, evaluation pages that gained `eval_gain`.
        let m = |eval_gain: f64, own_gain: f64| Measurement {
            eval: vec![PageLoss {
                before: 5.0,
                after: 5.0 - eval_gain,
            }],
            own: vec![PageLoss {
                before: 5.0,
                after: 5.0 - own_gain,
            }],
            controls: vec![],
        };
        let measured = [
            Some(m(0.2, 0.5)),
            Some(m(0.5, 0.9)),
            Some(m(0.01, 0.5)),
            None,
            // Passes the own-page check but raises the loss: paid nothing, not aggregated.
            Some(m(-0.3, -0.1)),
        ];
        let d = decide(&subs, &planned, &measured, &spec, &run.aggregation);
        let close = |o: &Result<f64, Rejection>, x: f64| (o.clone().unwrap() - x).abs() < 1e-12;
        assert!(close(&d.outcomes[0], 0.2), "{:?}", d.outcomes);
        // Paid for its residual's gain (capped by its own-page advantage, 0.4), but not
        // aggregated.
        assert!(close(&d.outcomes[1], 0.4), "{:?}", d.outcomes);
        // Below a fifth of the best: nothing.
        assert_eq!(d.outcomes[2], Ok(0.0));
        assert_eq!(d.outcomes[3], Err(Rejection::Late));
        assert_eq!(d.outcomes[4], Ok(0.0));
        // Accepted, best first; the overlapping one and the one that raised the loss are left
        // out.
        assert_eq!(d.members, vec![0, 2]);
        // Each measured one passed the devnet's rank test (one page of each, in order), the one
        // that raised the loss too: it trained its pages. The late one was not measured.
        assert_eq!(d.vouches, vec![true, true, true, false, true]);
        // Clipped to the median norm (the lower of two): 1/2 and (1/3)/2, then each at no
        // more than the third it was judged at: two members make 2/3 of a mean.
        let expected = [0.5 * 2.0 / 3.0, (1.0 / 3.0) / 2.0 * 2.0 / 3.0];
        assert!(
            d.weights
                .iter()
                .zip(expected)
                .all(|(&w, e)| (w as f64 - e).abs() < 1e-7),
            "{:?}",
            d.weights
        );
        // Only scores that survive the cut, with `positive`: one member, added at the weight it
        // was judged at (a third), not alone at full size.
        run.aggregation.include = Include::Positive;
        let d = decide(&subs, &planned, &measured, &spec, &run.aggregation);
        assert_eq!(d.members, vec![0]);
        assert_eq!(d.weights, vec![(1.0f64 / 3.0) as f32]);
    }
}
