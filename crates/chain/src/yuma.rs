//! Yuma consensus as subtensor's classic epoch computes it, in its I32F32 arithmetic, so the
//! results match subtensor's own test values to the last u16 and rao.
//!
//! One epoch, in order: normalise stake; mask stake to active, permitted validators; mask and
//! row-normalise weights; consensus is the stake-weighted median of each column at quantile
//! kappa; weights clip to consensus; incentive is the stake-weighted sum of clipped weights;
//! bonds move toward this epoch's stake-weighted weights; dividends are bonds times incentive;
//! emission splits between incentive (miners) and dividends (validators).
//!
//! This is pure: the chain passes the block and its stored state in and writes the output back.

use crate::fixed::{Fx, normalize, normalize_amounts};
use crate::types::Uid;

type Row = Vec<(Uid, Fx)>;

#[derive(Debug, Clone, Copy)]
pub struct YumaParams {
    pub kappa: Fx,
    pub bonds_penalty: Fx,
    /// Weight of this epoch's bonds in the moving average (1 - bonds_moving_average).
    pub alpha: Fx,
    pub activity_cutoff: u64,
    pub max_allowed_validators: usize,
}

impl YumaParams {
    /// From the chain's stored hyperparameters, converted as subtensor converts them.
    pub fn new(
        kappa: u16,
        bonds_penalty: u16,
        bonds_moving_average: u64,
        activity_cutoff: u64,
        max_allowed_validators: u16,
    ) -> Self {
        let u16_fraction = |x: u16| Fx::from_int(x as i64).safe_div(Fx::from_int(65535));
        let average = Fx((((bonds_moving_average as u128) << 32) / 1_000_000) as i64);
        YumaParams {
            kappa: u16_fraction(kappa),
            bonds_penalty: u16_fraction(bonds_penalty),
            alpha: Fx::ONE - average,
            activity_cutoff,
            max_allowed_validators: max_allowed_validators as usize,
        }
    }
}

/// A neuron's state going into an epoch.
#[derive(Debug, Clone, Default)]
pub struct YumaNeuron {
    pub stake: u64,
    pub last_update: u64,
    pub registered_at: u64,
    /// The permit from the previous epoch: it decides who counts in this one.
    pub validator_permit: bool,
    pub weights: Vec<(Uid, u16)>,
    pub bonds: Vec<(Uid, u16)>,
}

/// What an epoch gives a neuron. Fractions are u16 (65535 = 1.0); emission shares are I32F32
/// fractions of the epoch's emission.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct YumaOutput {
    pub consensus: u16,
    pub incentive: u16,
    pub dividends: u16,
    pub validator_trust: u16,
    /// The share of a miner's stake-weighted support that survived clipping to consensus.
    pub trust: u16,
    pub server_emission: Fx,
    pub validator_emission: Fx,
    pub emission: Fx,
    pub validator_permit: bool,
    pub bonds: Vec<(Uid, u16)>,
}

/// Runs one epoch at `block`. `last_tempo` is the first block of the period since the previous
/// epoch: bonds to neurons registered at or after it start from zero.
pub fn epoch(
    params: &YumaParams,
    block: u64,
    last_tempo: u64,
    neurons: &[YumaNeuron],
) -> Vec<YumaOutput> {
    let n = neurons.len();
    if n == 0 {
        return Vec::new();
    }
    let stakes: Vec<u64> = neurons.iter().map(|x| x.stake).collect();
    let stake = normalize_amounts(&stakes);
    let active: Vec<bool> = neurons
        .iter()
        .map(|x| x.last_update + params.activity_cutoff >= block)
        .collect();
    let new_permits = top_k_nonzero(&stake, params.max_allowed_validators);

    let mut active_stake: Vec<Fx> = (0..n)
        .map(|i| {
            if active[i] && neurons[i].validator_permit {
                stake[i]
            } else {
                Fx::ZERO
            }
        })
        .collect();
    normalize(&mut active_stake);

    let weights = masked_weights(neurons);
    let consensus = weighted_median_columns(&active_stake, &weights, n, params.kappa);
    let clipped = clip_columns(&weights, &consensus);
    let validator_trust: Vec<Fx> = clipped
        .iter()
        .map(|row| row.iter().map(|e| e.1).sum())
        .collect();
    let rank_before = stake_weighted_sum(&active_stake, &weights, n);
    let rank = stake_weighted_sum(&active_stake, &clipped, n);
    let trust: Vec<Fx> = rank
        .iter()
        .zip(&rank_before)
        .map(|(a, b)| a.safe_div(*b))
        .collect();
    let mut incentive = rank;
    normalize(&mut incentive);

    let bond_weights = interpolate(&weights, &clipped, n, params.bonds_penalty);
    let bonds = moving_bonds(params, neurons, last_tempo, &bond_weights, &active_stake);
    let mut dividends: Vec<Fx> = bonds
        .iter()
        .map(|row| {
            row.iter()
                .map(|&(j, b)| incentive[j as usize].saturating_mul(b))
                .sum()
        })
        .collect();
    normalize(&mut dividends);

    let (server, validator, combined) =
        emission_shares(&incentive, &dividends, &active_stake, &stake);
    let stored_bonds = max_upscale_columns(bonds, n);

    (0..n)
        .map(|i| YumaOutput {
            consensus: consensus[i].to_u16_proportion(),
            incentive: incentive[i].to_u16_proportion(),
            dividends: dividends[i].to_u16_proportion(),
            validator_trust: validator_trust[i].to_u16_proportion(),
            trust: trust[i].to_u16_proportion(),
            server_emission: server[i],
            validator_emission: validator[i],
            emission: combined[i],
            validator_permit: new_permits[i],
            bonds: if new_permits[i] {
                stored_bonds[i]
                    .iter()
                    .map(|&(j, v)| (j, v.to_u16_proportion()))
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// Permits go to the `k` largest nonzero stakes; among equal stakes the higher uid wins, as a
/// stable ascending sort that drops the first `n - k` gives.
fn top_k_nonzero(stake: &[Fx], k: usize) -> Vec<bool> {
    let n = stake.len();
    let mut permit: Vec<bool> = stake.iter().map(|s| *s != Fx::ZERO).collect();
    if n < k {
        return permit;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| stake[i]);
    for &i in &order[..n - k] {
        permit[i] = false;
    }
    permit
}

/// Weights that count this epoch, row-normalised: rows of validators without a permit, weights
/// on oneself, and weights set before the target registered are all dropped.
fn masked_weights(neurons: &[YumaNeuron]) -> Vec<Row> {
    let n = neurons.len();
    neurons
        .iter()
        .enumerate()
        .map(|(i, neuron)| {
            if !neuron.validator_permit {
                return Vec::new();
            }
            let mut row: Row = neuron
                .weights
                .iter()
                .filter(|&&(j, _)| {
                    let j = j as usize;
                    j < n && j != i && neuron.last_update > neurons[j].registered_at
                })
                .map(|&(j, w)| (j, Fx::from_int(w as i64)))
                .collect();
            let sum: Fx = row.iter().map(|e| e.1).sum();
            if sum != Fx::ZERO {
                for e in &mut row {
                    e.1 = e.1.safe_div(sum);
                }
            }
            row
        })
        .collect()
}

/// Consensus per column: the largest weight that validators holding at least `kappa` of the
/// active stake gave or exceeded. Only validators with active stake vote; a missing entry
/// votes zero.
fn weighted_median_columns(active_stake: &[Fx], weights: &[Row], n: usize, kappa: Fx) -> Vec<Fx> {
    let voters: Vec<usize> = (0..active_stake.len())
        .filter(|&i| active_stake[i] > Fx::ZERO)
        .collect();
    let mut stake: Vec<Fx> = voters.iter().map(|&i| active_stake[i]).collect();
    if stake.is_empty() {
        return vec![Fx::ZERO; n];
    }
    normalize(&mut stake);
    let total: Fx = stake.iter().copied().sum();
    let minority = total - kappa;
    let mut scores = vec![vec![Fx::ZERO; voters.len()]; n];
    for (k, &i) in voters.iter().enumerate() {
        for &(j, w) in &weights[i] {
            scores[j as usize][k] = w;
        }
    }
    scores
        .iter()
        .map(|column| weighted_median(&stake, column, minority, total))
        .collect()
}

/// Subtensor's quickselect-style weighted median: narrows to the values below or above a pivot
/// until the pivot's stake straddles `minority`.
pub(crate) fn weighted_median(stake: &[Fx], score: &[Fx], minority: Fx, total: Fx) -> Fx {
    let mut current: Vec<usize> = (0..stake.len()).collect();
    let (mut lo, mut hi) = (Fx::ZERO, total);
    for _ in 0..=stake.len() {
        match current.len() {
            0 => return Fx::ZERO,
            1 => return score[current[0]],
            _ => {}
        }
        let pivot = score[current[current.len() / 2]];
        let (mut lower, mut upper) = (Vec::new(), Vec::new());
        let (mut lower_stake, mut upper_stake) = (Fx::ZERO, Fx::ZERO);
        for &i in &current {
            if score[i] < pivot {
                lower.push(i);
                lower_stake = lower_stake + stake[i];
            } else if score[i] > pivot {
                upper.push(i);
                upper_stake = upper_stake + stake[i];
            }
        }
        if minority < lo + lower_stake && !lower.is_empty() {
            hi = lo + lower_stake;
            current = lower;
        } else if hi - upper_stake <= minority && !upper.is_empty() {
            lo = hi - upper_stake;
            current = upper;
        } else {
            return pivot;
        }
    }
    Fx::ZERO
}

/// `min(w_ij, c_j)`; an entry clipped to zero is dropped.
fn clip_columns(weights: &[Row], consensus: &[Fx]) -> Vec<Row> {
    weights
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|&(j, w)| {
                    let c = consensus[j as usize];
                    if c < w {
                        (c > Fx::ZERO).then_some((j, c))
                    } else {
                        Some((j, w))
                    }
                })
                .collect()
        })
        .collect()
}

/// `sum_i s_i * m_ij` per column.
fn stake_weighted_sum(stake: &[Fx], matrix: &[Row], n: usize) -> Vec<Fx> {
    let mut out = vec![Fx::ZERO; n];
    for (i, row) in matrix.iter().enumerate() {
        for &(j, v) in row {
            out[j as usize] = out[j as usize] + stake[i].saturating_mul(v);
        }
    }
    out
}

/// `a + ratio * (b - a)` cell by cell, keeping positive cells; exact at ratio 0 and 1.
fn interpolate(a: &[Row], b: &[Row], n: usize, ratio: Fx) -> Vec<Row> {
    if ratio == Fx::ZERO {
        return a.to_vec();
    }
    if ratio == Fx::ONE {
        return b.to_vec();
    }
    a.iter()
        .zip(b)
        .map(|(ra, rb)| {
            let mut dense = vec![(Fx::ZERO, Fx::ZERO); n];
            for &(j, v) in ra {
                dense[j as usize].0 = v;
            }
            for &(j, v) in rb {
                dense[j as usize].1 = v;
            }
            dense
                .iter()
                .enumerate()
                .filter_map(|(j, &(x, y))| {
                    let v = x + ratio.saturating_mul(y - x);
                    (v > Fx::ZERO).then_some((j as Uid, v))
                })
                .collect()
        })
        .collect()
}

/// The classic bonds: stored bonds (minus columns of neurons registered since the last epoch)
/// and this epoch's stake-weighted weights, both column-normalised, averaged with `alpha`, and
/// column-normalised again.
fn moving_bonds(
    params: &YumaParams,
    neurons: &[YumaNeuron],
    last_tempo: u64,
    bond_weights: &[Row],
    active_stake: &[Fx],
) -> Vec<Row> {
    let n = neurons.len();
    let mut old: Vec<Row> = neurons
        .iter()
        .map(|neuron| {
            neuron
                .bonds
                .iter()
                .filter(|&&(j, _)| {
                    let j = j as usize;
                    j < n && last_tempo > neurons[j].registered_at
                })
                .map(|&(j, b)| (j, Fx::from_int(b as i64)))
                .collect()
        })
        .collect();
    normalize_columns(&mut old, n);
    let mut delta: Vec<Row> = bond_weights
        .iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .map(|&(j, w)| (j, w.saturating_mul(active_stake[i])))
                .collect()
        })
        .collect();
    normalize_columns(&mut delta, n);

    let keep = Fx::ONE - params.alpha;
    let mut bonds: Vec<Row> = old
        .iter()
        .zip(&delta)
        .map(|(old_row, new_row)| {
            let mut acc = vec![Fx::ZERO; n];
            for &(j, v) in new_row {
                acc[j as usize] = acc[j as usize] + params.alpha.saturating_mul(v);
            }
            for &(j, v) in old_row {
                acc[j as usize] = acc[j as usize] + keep.saturating_mul(v);
            }
            acc.iter()
                .enumerate()
                .filter(|(_, v)| **v > Fx::ZERO)
                .map(|(j, v)| (j as Uid, *v))
                .collect()
        })
        .collect();
    normalize_columns(&mut bonds, n);
    bonds
}

fn column_reduce(matrix: &[Row], n: usize, f: impl Fn(Fx, Fx) -> Fx) -> Vec<Fx> {
    let mut out = vec![Fx::ZERO; n];
    for row in matrix {
        for &(j, v) in row {
            out[j as usize] = f(out[j as usize], v);
        }
    }
    out
}

fn normalize_columns(matrix: &mut [Row], n: usize) {
    let sums = column_reduce(matrix, n, |a, b| a + b);
    for row in matrix.iter_mut() {
        for e in row.iter_mut() {
            e.1 = e.1.safe_div(sums[e.0 as usize]);
        }
    }
}

fn max_upscale_columns(mut matrix: Vec<Row>, n: usize) -> Vec<Row> {
    let maxima = column_reduce(&matrix, n, Fx::max);
    for row in matrix.iter_mut() {
        for e in row.iter_mut() {
            e.1 = e.1.safe_div(maxima[e.0 as usize]);
        }
    }
    matrix
}

/// Miners' and validators' shares of the epoch's emission, and their sum per neuron. With no
/// incentive and no dividends, validators are paid by active stake (or by stake if none is
/// active), as subtensor does.
fn emission_shares(
    incentive: &[Fx],
    dividends: &[Fx],
    active_stake: &[Fx],
    stake: &[Fx],
) -> (Vec<Fx>, Vec<Fx>, Vec<Fx>) {
    let mut combined: Vec<Fx> = incentive
        .iter()
        .zip(dividends)
        .map(|(a, b)| *a + *b)
        .collect();
    let sum: Fx = combined.iter().copied().sum();
    if sum == Fx::ZERO {
        let fallback = if active_stake.iter().any(|s| *s != Fx::ZERO) {
            active_stake.to_vec()
        } else {
            stake.to_vec()
        };
        return (incentive.to_vec(), fallback.clone(), fallback);
    }
    let server = incentive.iter().map(|x| x.safe_div(sum)).collect();
    let validator = dividends.iter().map(|x| x.safe_div(sum)).collect();
    normalize(&mut combined);
    (server, validator, combined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(values: &[f32]) -> Vec<Fx> {
        values.iter().map(|&v| Fx::from_f64(v as f64)).collect()
    }

    #[test]
    fn weighted_median_matches_subtensor_cases() {
        // (stake, score, expected) at majority 0.51, from subtensor's math tests.
        let cases: &[(&[f32], &[f32], f32)] = &[
            (&[], &[], 0.0),
            (&[1.0], &[1.0], 1.0),
            (&[0.49, 0.51], &[0.5, 1.0], 1.0),
            (&[0.51, 0.49], &[0.5, 1.0], 0.5),
            (&[0.49, 0.0, 0.51], &[0.5, 0.7, 1.0], 1.0),
            (&[0.49, 0.01, 0.5], &[0.5, 0.7, 1.0], 0.7),
            (&[0.49, 0.51, 0.0], &[0.5, 0.7, 1.0], 0.7),
            (&[0.0, 0.49, 0.51], &[0.5, 0.7, 1.0], 1.0),
            (&[0.0, 0.49, 0.0, 0.51], &[0.5, 0.5, 1.0, 1.0], 1.0),
            (
                &[0.0, 0.49, 0.0, 0.51, 0.0],
                &[0.5, 0.5, 1.0, 1.0, 0.5],
                1.0,
            ),
            (&[0.2; 5], &[0.8, 0.2, 1.0, 0.6, 0.4], 0.6),
            (
                &[0.1; 10],
                &[0.8, 0.8, 0.2, 0.2, 1.0, 1.0, 0.6, 0.6, 0.4, 0.4],
                0.6,
            ),
        ];
        let majority = Fx::from_f64(0.51f32 as f64);
        for (stake, score, want) in cases {
            let stake = fx(stake);
            let total: Fx = stake.iter().copied().sum();
            let got = weighted_median(&stake, &fx(score), total - majority, total);
            assert_eq!(got, Fx::from_f64(*want as f64), "{stake:?} {score:?}");
        }
    }

    #[test]
    fn median_columns_match_subtensor_cases() {
        // 4 validators x 3 columns; (stake, kappa, expected per column).
        let w = [
            [0.0, 0.1, 0.0],
            [0.0, 0.2, 0.4],
            [0.0, 0.3, 0.1],
            [0.0, 0.4, 0.5],
        ];
        let rows: Vec<Row> = w
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(j, v)| (j as Uid, Fx::from_f64(*v as f32 as f64)))
                    .collect()
            })
            .collect();
        let stake = fx(&[0.0, 0.75, 0.25, 0.0]);
        for (kappa, want) in [
            (0.24f32, [0.0f32, 0.3, 0.4]),
            (0.26, [0.0, 0.2, 0.4]),
            (0.76, [0.0, 0.2, 0.1]),
        ] {
            let got = weighted_median_columns(&stake, &rows, 3, Fx::from_f64(kappa as f64));
            assert_eq!(got, fx(&want), "kappa {kappa}");
        }
    }

    #[test]
    fn top_k_ties_go_to_higher_uids() {
        let permits = |v: &[f32], k| top_k_nonzero(&fx(v), k);
        assert_eq!(
            permits(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 6.0], 5),
            [
                false, false, false, false, false, true, true, true, true, true
            ]
        );
        assert_eq!(
            permits(&[9.0, 0.0, 8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 4.0], 5),
            [
                true, false, true, false, true, false, true, false, true, false
            ]
        );
        assert_eq!(permits(&[0.0, 1.0], 5), [false, true]);
    }

    #[test]
    fn clip_drops_entries_clipped_to_zero() {
        let w: Vec<Row> = vec![vec![(1, Fx::from_int(2)), (2, Fx::from_int(3))]];
        let c = vec![Fx::ZERO, Fx::ZERO, Fx::from_int(12)];
        assert_eq!(clip_columns(&w, &c), vec![vec![(2, Fx::from_int(3))]]);
    }
}
