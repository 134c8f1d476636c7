//! Yuma consensus against subtensor's own published numbers: the timelines of `test_bonds`,
//! `test_active_stake`, `test_outdated_weights`, `test_10_graph` and `test_512_graph` from
//! `pallets/subtensor/src/tests/epoch.rs` (opentensor/subtensor at 14bc6f9), replayed step by
//! step. Asserted values are subtensor's; the full per-epoch vectors are its printed traces.

use gradient_chain::Uid;
use gradient_chain::fixed::max_upscale_u16;
use gradient_chain::yuma::{self, YumaNeuron, YumaOutput, YumaParams};

/// A subnet as the subtensor tests drive it: blocks, registrations, weights, epochs.
struct Subnet {
    params: YumaParams,
    tempo: u64,
    block: u64,
    neurons: Vec<YumaNeuron>,
    last: Vec<YumaOutput>,
}

impl Subnet {
    fn new(stakes: &[u64], tempo: u64, max_validators: u16, block: u64) -> Self {
        // Subtensor derives the activity cutoff from the tempo: max(13889 * tempo / 1000, 1).
        let cutoff = (13_889 * tempo / 1000).max(1);
        Subnet {
            params: YumaParams::new(32767, 65535, 900_000, cutoff, max_validators),
            tempo,
            block,
            neurons: stakes
                .iter()
                .map(|&stake| YumaNeuron {
                    stake,
                    last_update: block,
                    registered_at: block,
                    ..Default::default()
                })
                .collect(),
            last: Vec::new(),
        }
    }

    fn set_weights(&mut self, uid: usize, dests: &[Uid], values: &[u16]) {
        let stored = max_upscale_u16(values);
        self.neurons[uid].weights = dests.iter().copied().zip(stored).collect();
        self.neurons[uid].last_update = self.block;
    }

    fn epoch(&mut self) {
        // These tests never run a coinbase epoch, so the last step block stays 0.
        let last_tempo = self.block.saturating_sub(self.tempo);
        let out = yuma::epoch(&self.params, self.block, last_tempo, &self.neurons);
        for (neuron, result) in self.neurons.iter_mut().zip(&out) {
            neuron.validator_permit = result.validator_permit;
            neuron.bonds = result.bonds.clone();
        }
        self.last = out;
    }

    fn bond(&self, i: usize, j: Uid) -> u16 {
        self.neurons[i]
            .bonds
            .iter()
            .find(|b| b.0 == j)
            .map_or(0, |b| b.1)
    }

    fn column(&self, j: Uid) -> Vec<u16> {
        (0..4).map(|i| self.bond(i, j)).collect()
    }

    fn emission(&self, rao: u64) -> Vec<u64> {
        self.last
            .iter()
            .map(|o| o.emission.of_amount(rao))
            .collect()
    }

    fn field(&self, f: impl Fn(&YumaOutput) -> u16) -> Vec<u16> {
        self.last.iter().map(f).collect()
    }
}

const RAO: u64 = 1_000_000_000;

#[test]
fn test_bonds() {
    let mut net = Subnet::new(&[1, 2, 3, 4, 0, 0, 0, 0], 1, 8, 1);
    net.epoch();
    assert_eq!(
        net.emission(RAO),
        [99999999, 199999999, 299999999, 399999999, 0, 0, 0, 0]
    );
    let permits: Vec<bool> = net.last.iter().map(|o| o.validator_permit).collect();
    assert_eq!(
        permits,
        [true, true, true, true, false, false, false, false]
    );

    net.block = 2;
    let servers: [Uid; 4] = [4, 5, 6, 7];
    let weights = [65535 / 4, 65535 / 2, (65535 / 4) * 3, 65535];
    for uid in 0..4 {
        net.set_weights(uid, &servers, &weights);
    }
    net.epoch();
    assert_eq!(net.column(4), [16383, 32767, 49151, 65535]);
    assert_eq!(
        net.field(|o| o.consensus),
        [0, 0, 0, 0, 6553, 13107, 19660, 26214]
    );
    assert_eq!(
        net.field(|o| o.incentive),
        [0, 0, 0, 0, 6553, 13107, 19660, 26214]
    );
    assert_eq!(
        net.field(|o| o.dividends),
        [6553, 13106, 19660, 26214, 0, 0, 0, 0]
    );
    assert_eq!(
        net.field(|o| o.validator_trust),
        [65534, 65534, 65534, 65534, 0, 0, 0, 0]
    );
    assert_eq!(
        net.emission(RAO),
        [
            49999998, 99999999, 150000000, 200000001, 49998779, 100000610, 149996337, 200004272
        ]
    );

    // Validators one by one turn to weighting only themselves, which the epoch ignores.
    net.set_weights(0, &[0], &[65535]);
    net.block = 3;
    net.epoch();
    assert_eq!(net.column(4), [14582, 32767, 49151, 65535]);
    assert_eq!(
        net.field(|o| o.dividends),
        [5897, 13252, 19879, 26505, 0, 0, 0, 0]
    );

    net.set_weights(1, &[1], &[65535]);
    net.block = 4;
    net.epoch();
    assert_eq!(net.column(4), [12603, 28321, 49151, 65535]);
    assert_eq!(
        net.emission(RAO),
        [
            40496805, 90999783, 157929636, 210573773, 49998779, 100000610, 149996337, 200004272
        ]
    );

    // Only 0.4 of the stake still supports the servers: no consensus, bonds decay.
    net.set_weights(2, &[2], &[65535]);
    net.block = 5;
    net.epoch();
    assert_eq!(net.column(7), [12602, 28320, 49150, 65535]);
    assert_eq!(net.field(|o| o.consensus), [0; 8]);

    net.set_weights(2, &[7], &[65535]);
    net.block = 6;
    net.epoch();
    assert_eq!(net.column(7), [10951, 24609, 49150, 65535]);
    assert_eq!(net.field(|o| o.consensus), [0, 0, 0, 0, 0, 0, 0, 26214]);
    assert_eq!(net.field(|o| o.incentive), [0, 0, 0, 0, 0, 0, 0, 65535]);
    assert_eq!(
        net.field(|o| o.dividends),
        [4776, 10734, 21438, 28585, 0, 0, 0, 0]
    );
    assert_eq!(
        net.emission(RAO),
        [36443733, 81898628, 163565493, 218092144, 0, 0, 0, 500000000]
    );

    net.block = 7;
    net.epoch();
    assert_eq!(net.column(7), [9559, 21482, 49150, 65535]);

    net.block = 8;
    net.epoch();
    assert_eq!(net.column(7), [8376, 18824, 49150, 65535]);
    assert_eq!(
        net.field(|o| o.dividends),
        [3868, 8694, 22701, 30269, 0, 0, 0, 0]
    );
    assert_eq!(
        net.emission(RAO),
        [29518068, 66336137, 173203134, 230942659, 0, 0, 0, 500000000]
    );
}

#[test]
fn test_active_stake() {
    let mut net = Subnet::new(&[1, 1, 1, 1], 1, 4, 0);
    net.epoch();
    net.block = 1;
    for uid in 0..2 {
        net.set_weights(uid, &[2, 3], &[65535 / 2, 65535 / 2]);
    }
    net.epoch();
    assert_eq!(net.field(|o| o.dividends)[..2], [32767, 32767]);
    assert_eq!(net.emission(RAO), [250000000; 4]);
    for uid in 0..2 {
        assert_eq!((net.bond(uid, 0), net.bond(uid, 1)), (0, 0));
        assert_eq!((net.bond(uid, 2), net.bond(uid, 3)), (65535, 65535));
    }

    // Validator 1 goes quiet past the activity cutoff: validator 0 alone builds bonds.
    net.block = 5002;
    net.set_weights(0, &[2, 3], &[65535 / 2, 65535 / 2]);
    net.epoch();
    assert_eq!(net.field(|o| o.dividends)[..2], [36044, 29490]);
    assert_eq!(net.emission(RAO)[..2], [274999999, 224999999]);
    assert_eq!((net.bond(0, 2), net.bond(0, 3)), (65535, 65535));
    assert_eq!((net.bond(1, 2), net.bond(1, 3)), (53619, 53619));

    net.set_weights(1, &[2, 3], &[65535 / 2, 65535 / 2]);
    net.block = 5003;
    net.epoch();
    assert_eq!(net.field(|o| o.dividends)[..2], [35716, 29818]);
    assert_eq!(net.emission(RAO)[..2], [272501132, 227498866]);
    assert_eq!((net.bond(0, 2), net.bond(0, 3)), (65535, 65535));
    assert_eq!((net.bond(1, 2), net.bond(1, 3)), (54712, 54712));
}

#[test]
fn test_outdated_weights() {
    let mut net = Subnet::new(&[1, 1, 1, 1], 0, 4, 1);
    net.epoch();
    net.block = 2;
    for uid in 0..2 {
        net.set_weights(uid, &[2, 3], &[2 * (65535 / 3), 65535 / 3]);
    }
    for uid in 2..4 {
        net.set_weights(uid, &[uid as Uid], &[65535]);
    }
    assert_eq!(net.neurons[0].weights, [(2, 65535), (3, 32768)]);
    net.epoch();
    assert_eq!(net.field(|o| o.consensus), [0, 0, 43689, 21845]);
    assert_eq!(
        net.emission(RAO),
        [250000000, 250000000, 333331637, 166668361]
    );

    // A new hotkey with no stake replaces uid 3 at block 2; weights to it set earlier no longer
    // count, until a validator sets them again.
    let replaced = &mut net.neurons[3];
    *replaced = YumaNeuron {
        registered_at: 2,
        last_update: 2,
        ..Default::default()
    };
    net.block = 3;
    net.set_weights(0, &[2, 3], &[2 * (65535 / 3), 65535 / 3]);
    net.epoch();
    assert_eq!(net.field(|o| o.dividends)[0], 32767);
    assert_eq!(net.emission(RAO), [250000000, 250000000, 500000000, 0]);
    assert_eq!((net.bond(0, 2), net.bond(0, 3)), (65535, 65535));
    let permits: Vec<bool> = net.last.iter().map(|o| o.validator_permit).collect();
    assert_eq!(permits, [true, true, true, false]);
}

#[test]
fn test_10_graph() {
    let mut net = Subnet::new(&[1; 10], 65534, 64, 0);
    net.block = 1;
    for uid in 0..10 {
        net.set_weights(uid, &[uid as Uid], &[65535]);
    }
    net.epoch();
    assert_eq!(net.field(|o| o.consensus), [0; 10]);
    assert_eq!(net.field(|o| o.incentive), [0; 10]);
    assert_eq!(net.field(|o| o.dividends), [0; 10]);
    // No one has a permit yet, so emission falls back to stake: 0.1 in I32F32 is just below.
    assert_eq!(net.emission(RAO), [99999999; 10]);
}

#[test]
fn test_512_graph() {
    let n = 512;
    let validators = 64;
    let mut stakes = vec![0u64; n];
    stakes[..validators].fill(328_125_000_000_000);
    let mut net = Subnet::new(&stakes, 65534, 64, 0);
    net.block = 1;
    net.epoch();
    let servers: Vec<Uid> = (validators as Uid..n as Uid).collect();
    let weights = vec![(u16::MAX as usize / n) as u16; servers.len()];
    for uid in 0..validators {
        net.set_weights(uid, &servers, &weights);
    }
    for _ in 0..3 {
        net.epoch();
    }
    let emission = net.emission(RAO);
    for (uid, &emitted) in emission.iter().enumerate() {
        if uid >= validators {
            let out = &net.last[uid];
            assert_eq!((out.consensus, out.incentive, out.dividends), (146, 146, 0));
            assert_eq!(emitted, 1116071);
            assert!(net.neurons[uid].bonds.is_empty());
            continue;
        }
        let out = &net.last[uid];
        assert_eq!((out.consensus, out.incentive, out.dividends), (0, 0, 1023));
        assert_eq!(emitted, 7812500);
        assert_eq!(net.bond(uid, 0), 0);
        assert_eq!(net.bond(uid, validators as Uid), 65535);
    }
}
