//! Subtensor's I32F32 fixed point: 32 integer and 32 fractional bits. Yuma consensus is run in
//! it rather than in f64 because its truncations are part of the published results (a decaying
//! bond loses one u16 step per epoch; 0.275 of an emission is 274999999 rao).

use std::ops::{Add, Sub};

const FRAC: u32 = 32;

/// An I32F32 number as its raw bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fx(pub i64);

impl Fx {
    pub const ZERO: Fx = Fx(0);
    pub const ONE: Fx = Fx(1 << FRAC);

    pub fn from_int(x: i64) -> Fx {
        Fx(x << FRAC)
    }

    /// Nearest representable value, as `I32F32::from_num` rounds.
    pub fn from_f64(x: f64) -> Fx {
        Fx((x * (1u64 << FRAC) as f64).round() as i64)
    }

    pub fn to_f64(self) -> f64 {
        self.0 as f64 / (1u64 << FRAC) as f64
    }

    /// Product, truncated toward negative infinity as the fixed crate does. (Subtensor's values
    /// stay far inside the range, so unlike its namesake this never needs to saturate.)
    pub fn saturating_mul(self, other: Fx) -> Fx {
        Fx(((self.0 as i128 * other.0 as i128) >> FRAC) as i64)
    }

    /// Quotient truncated toward zero; zero when dividing by zero (subtensor's `safe_div`).
    pub fn safe_div(self, other: Fx) -> Fx {
        if other.0 == 0 {
            return Fx::ZERO;
        }
        Fx((((self.0 as i128) << FRAC) / other.0 as i128) as i64)
    }

    /// `fixed_proportion_to_u16`: `floor(x * 65535)`, saturating.
    pub fn to_u16_proportion(self) -> u16 {
        let scaled = (self.0 as i128 * 65535) >> FRAC;
        scaled.clamp(0, 65535) as u16
    }

    /// `floor(x * amount)` for a non-negative proportion of an integer amount (rao).
    pub fn of_amount(self, amount: u64) -> u64 {
        if self.0 <= 0 {
            return 0;
        }
        ((self.0 as u128 * amount as u128) >> FRAC) as u64
    }
}

impl Add for Fx {
    type Output = Fx;
    fn add(self, other: Fx) -> Fx {
        Fx(self.0.saturating_add(other.0))
    }
}

impl Sub for Fx {
    type Output = Fx;
    fn sub(self, other: Fx) -> Fx {
        Fx(self.0.saturating_sub(other.0))
    }
}

impl std::iter::Sum for Fx {
    fn sum<I: Iterator<Item = Fx>>(iter: I) -> Fx {
        iter.fold(Fx::ZERO, |a, b| a + b)
    }
}

/// `x / sum(x)` element-wise; left unchanged when the sum is zero.
pub fn normalize(values: &mut [Fx]) {
    let sum: Fx = values.iter().copied().sum();
    if sum != Fx::ZERO {
        for v in values.iter_mut() {
            *v = v.safe_div(sum);
        }
    }
}

/// Normalises integer amounts (stake) as subtensor does: an I64F64 quotient narrowed to I32F32,
/// that is `floor(x * 2^32 / sum)`.
pub fn normalize_amounts(amounts: &[u64]) -> Vec<Fx> {
    let sum: u128 = amounts.iter().map(|&a| a as u128).sum();
    amounts
        .iter()
        .map(|&a| Fx((((a as u128) << FRAC).checked_div(sum).unwrap_or(0)) as i64))
        .collect()
}

/// Scales u16 weights so the largest is 65535, rounding half away from zero, exactly as
/// subtensor stores a `set_weights` row (`vec_u16_max_upscale_to_u16`).
pub fn max_upscale_u16(values: &[u16]) -> Vec<u16> {
    let max = values.iter().copied().max().unwrap_or(0) as i128;
    if max == 0 {
        return values.to_vec();
    }
    let round = |bits: i128| -> u16 { ((bits + (1 << (FRAC - 1))) >> FRAC).clamp(0, 65535) as u16 };
    if max > 32768 {
        // 65535 / max first: e * 65535 would leave I32F32's range.
        let ratio = (65535i128 << FRAC) / max;
        values.iter().map(|&e| round(e as i128 * ratio)).collect()
    } else {
        values
            .iter()
            .map(|&e| round(((e as i128 * 65535) << FRAC) / max))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_subtensor() {
        // kappa = 32767 / 65535 and alpha = 1 - 900000 / 1e6, as subtensor computes them.
        assert_eq!(
            Fx::from_int(32767).safe_div(Fx::from_int(65535)).0,
            2_147_450_879
        );
        let bma = ((900_000u128 << 32) / 1_000_000) as i64;
        assert_eq!((Fx::ONE - Fx(bma)).0, 429_496_730);
        assert_eq!(Fx::from_f64(0.1).0, 429_496_730);
        assert_eq!(normalize_amounts(&[1, 2, 3, 4])[0].0, 429_496_729);
        assert_eq!(Fx::from_int(65535).to_u16_proportion(), 65535);
        assert_eq!(Fx::ZERO.to_u16_proportion(), 0);
        assert_eq!(Fx(-5).of_amount(1000), 0);
        assert_eq!(Fx::ONE.safe_div(Fx::ZERO), Fx::ZERO);
    }

    #[test]
    fn normalise_like_subtensor() {
        let mut v: Vec<Fx> = [1.0, 10.0, 30.0].iter().map(|&x| Fx::from_f64(x)).collect();
        normalize(&mut v);
        for (got, want) in v.iter().zip([0.0243902437, 0.243902439, 0.7317073171]) {
            assert!((got.to_f64() - want).abs() < 1e-4);
        }
        let mut zeros = vec![Fx::ZERO; 3];
        normalize(&mut zeros);
        assert_eq!(zeros, vec![Fx::ZERO; 3]);
    }

    #[test]
    fn u16_max_upscale_matches_subtensor() {
        let cases: &[(&[u16], &[u16])] = &[
            (&[], &[]),
            (&[0], &[0]),
            (&[0, 0], &[0, 0]),
            (&[1], &[65535]),
            (&[0, 1], &[0, 65535]),
            (&[65534], &[65535]),
            (&[65535, 65535], &[65535, 65535]),
            (&[0, 1, 65534], &[0, 1, 65535]),
            (
                &[0, 1, 2, 3, 4, 65533, 65535],
                &[0, 1, 2, 3, 4, 65533, 65535],
            ),
            (&[43690, 21845], &[65535, 32768]),
            (&[16383, 32767, 49149, 65535], &[16383, 32767, 49149, 65535]),
            (&[32767, 32767], &[65535, 65535]),
        ];
        for (input, want) in cases {
            assert_eq!(max_upscale_u16(input), *want, "{input:?}");
        }
    }
}
