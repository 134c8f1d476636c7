//! `NeuronInfoLite` as runtimes up to about spec 250 return it from
//! `NeuronInfoRuntimeApi.get_neurons_lite`: SCALE bytes (`Vec<u8>`) rather than a typed value,
//! so the layout is read here, with every length checked against what is left.
//!
//! | field | encoding |
//! |---|---|
//! | hotkey, coldkey | 32 bytes each |
//! | uid, netuid | compact u16 |
//! | active | bool |
//! | axon_info | 34 bytes (block u64, version u32, ip u128, port u16, 4 × u8) |
//! | prometheus_info | 31 bytes (block u64, version u32, ip u128, port u16, ip_type u8) |
//! | stake | compact length, then (coldkey 32 bytes, compact u64) pairs |
//! | rank, emission, incentive, consensus, trust, validator_trust, dividends | compact (u16, u64, u16 × 5) |
//! | last_update | compact u64 |
//! | validator_permit | bool |
//! | pruning_score | compact u16 |

use gradient_chain::AccountId;

use crate::error::SubtensorError;
use crate::subnet::NeuronLite;

const AXON_INFO: usize = 34;
const PROMETHEUS_INFO: usize = 31;

struct Reader<'a> {
    bytes: &'a [u8],
}

fn short(what: &str) -> SubtensorError {
    SubtensorError::shape("NeuronInfoLite", format!("the bytes end inside {what}"))
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], SubtensorError> {
        if self.bytes.len() < n {
            return Err(short(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn account(&mut self, what: &str) -> Result<AccountId, SubtensorError> {
        Ok(AccountId(
            self.take(32, what)?.try_into().expect("32 bytes"),
        ))
    }

    fn boolean(&mut self, what: &str) -> Result<bool, SubtensorError> {
        match self.take(1, what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(SubtensorError::shape(what, format!("{b} is not a bool"))),
        }
    }

    /// SCALE's compact integer (all four modes; the big-integer mode up to 8 bytes).
    fn compact(&mut self, what: &str) -> Result<u64, SubtensorError> {
        let first = self.take(1, what)?[0];
        let value = match first & 0b11 {
            0 => u64::from(first >> 2),
            1 => {
                let b = self.take(1, what)?;
                u64::from(u16::from_le_bytes([first, b[0]]) >> 2)
            }
            2 => {
                let b = self.take(3, what)?;
                u64::from(u32::from_le_bytes([first, b[0], b[1], b[2]]) >> 2)
            }
            _ => {
                let len = usize::from(first >> 2) + 4;
                if len > 8 {
                    return Err(SubtensorError::shape(what, "a compact wider than u64"));
                }
                let mut le = [0u8; 8];
                le[..len].copy_from_slice(self.take(len, what)?);
                u64::from_le_bytes(le)
            }
        };
        Ok(value)
    }

    fn compact_u16(&mut self, what: &str) -> Result<u16, SubtensorError> {
        let v = self.compact(what)?;
        u16::try_from(v).map_err(|_| SubtensorError::shape(what, format!("{v} exceeds u16")))
    }
}

/// Every neuron in the SCALE bytes of a `Vec<NeuronInfoLite>`.
pub fn decode_neurons(bytes: &[u8]) -> Result<Vec<NeuronLite>, SubtensorError> {
    let mut r = Reader { bytes };
    let count = r.compact("the neuron count")?;
    // Each neuron takes at least 150 bytes: a count beyond that is not this layout.
    if count as usize > bytes.len() / 150 + 1 {
        return Err(SubtensorError::shape(
            "NeuronInfoLite",
            format!("{count} neurons in {} bytes", bytes.len()),
        ));
    }
    let neurons = (0..count)
        .map(|_| neuron(&mut r))
        .collect::<Result<Vec<_>, _>>()?;
    if !r.bytes.is_empty() {
        return Err(SubtensorError::shape(
            "NeuronInfoLite",
            format!("{} bytes left over", r.bytes.len()),
        ));
    }
    Ok(neurons)
}

fn neuron(r: &mut Reader) -> Result<NeuronLite, SubtensorError> {
    let hotkey = r.account("hotkey")?;
    let coldkey = r.account("coldkey")?;
    let uid = r.compact_u16("uid")?;
    let _netuid = r.compact_u16("netuid")?;
    let _active = r.boolean("active")?;
    r.take(AXON_INFO, "axon_info")?;
    r.take(PROMETHEUS_INFO, "prometheus_info")?;
    let stakes = r.compact("stake")?;
    let mut stake = 0u64;
    for _ in 0..stakes {
        r.account("stake")?;
        stake = stake.saturating_add(r.compact("stake")?);
    }
    let _rank = r.compact_u16("rank")?;
    let emission = r.compact("emission")?;
    let incentive = r.compact_u16("incentive")?;
    let consensus = r.compact_u16("consensus")?;
    let trust = r.compact_u16("trust")?;
    let validator_trust = r.compact_u16("validator_trust")?;
    let dividends = r.compact_u16("dividends")?;
    let last_update = r.compact("last_update")?;
    let validator_permit = r.boolean("validator_permit")?;
    let _pruning_score = r.compact_u16("pruning_score")?;
    Ok(NeuronLite {
        uid,
        hotkey,
        coldkey,
        stake,
        incentive,
        dividends,
        consensus,
        trust,
        validator_trust,
        validator_permit,
        emission,
        last_update,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(v: u64) -> Vec<u8> {
        match v {
            0..=63 => vec![(v as u8) << 2],
            64..=16383 => (((v as u16) << 2) | 1).to_le_bytes().to_vec(),
            16384..=0x3fff_ffff => (((v as u32) << 2) | 2).to_le_bytes().to_vec(),
            _ => {
                let mut out = vec![((8 - 4) << 2) | 3];
                out.extend_from_slice(&v.to_le_bytes());
                out
            }
        }
    }

    fn encoded(uid: u16, incentive: u16, stake: u64) -> Vec<u8> {
        let mut b = vec![1u8; 32];
        b.extend([2u8; 32]);
        b.extend(compact(uid.into()));
        b.extend(compact(5));
        b.push(1);
        b.extend([0u8; AXON_INFO + PROMETHEUS_INFO]);
        b.extend(compact(1));
        b.extend([3u8; 32]);
        b.extend(compact(stake));
        b.extend(compact(0)); // rank
        b.extend(compact(1_000_000_000)); // emission
        b.extend(compact(incentive.into()));
        for _ in 0..4 {
            b.extend(compact(7));
        }
        b.extend(compact(123_456)); // last_update
        b.push(1);
        b.extend(compact(65_535));
        b
    }

    #[test]
    fn neurons_decode_from_the_old_byte_layout() {
        let mut bytes = compact(2);
        bytes.extend(encoded(0, 40_000, 5));
        bytes.extend(encoded(1, 65_535, 1 << 40));
        let neurons = decode_neurons(&bytes).unwrap();
        assert_eq!(neurons.len(), 2);
        assert_eq!(neurons[1].uid, 1);
        assert_eq!(neurons[1].incentive, 65_535);
        assert_eq!(neurons[1].stake, 1 << 40);
        assert_eq!(neurons[0].emission, 1_000_000_000);
        assert_eq!(neurons[0].last_update, 123_456);
        assert!(neurons[0].validator_permit);
        assert_eq!(neurons[0].hotkey, AccountId([1; 32]));
    }

    #[test]
    fn truncated_padded_or_lying_bytes_are_refused() {
        let mut bytes = compact(1);
        bytes.extend(encoded(0, 1, 1));
        for cut in [1, 40, 100, bytes.len() - 1] {
            assert!(decode_neurons(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(decode_neurons(&padded).is_err());
        let mut lying = compact(1_000_000);
        lying.extend(encoded(0, 1, 1));
        assert!(decode_neurons(&lying).is_err());
    }
}
