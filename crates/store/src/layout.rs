//! Where a run's objects live, relative to a store's root. One function per kind of object, so
//! the layout is written down once (and described in docs/protocol.md).
//!
//! ```text
//! runs/<run>/run                                the owner's signed run config
//! runs/<run>/masters/<window>                   the master after <window> (0 = genesis)
//! runs/<run>/aggregates/<window>                which submissions, with which weights, made it
//! runs/<run>/submissions/<window>/<hotkey>      a miner's delta for <window>
//! runs/<run>/validators/<hotkey>/state          a validator's scores and progress
//! ```
//!
//! `<run>` is the run id in hex, `<window>` is zero-padded to 10 digits so keys sort by window,
//! `<hotkey>` is an SS58 address.

use gradient_identity::AccountId;

use crate::envelope::Hash;

fn run_root(run: &Hash) -> String {
    format!("runs/{}", hex::encode(run))
}

pub fn run_config(run: &Hash) -> String {
    format!("{}/run", run_root(run))
}

pub fn master(run: &Hash, window: u64) -> String {
    format!("{}/masters/{window:010}", run_root(run))
}

pub fn aggregate(run: &Hash, window: u64) -> String {
    format!("{}/aggregates/{window:010}", run_root(run))
}

pub fn submissions(run: &Hash, window: u64) -> String {
    format!("{}/submissions/{window:010}", run_root(run))
}

pub fn submission(run: &Hash, window: u64, miner: &AccountId) -> String {
    format!("{}/{}", submissions(run, window), miner.to_ss58())
}

pub fn validator_state(run: &Hash, validator: &AccountId) -> String {
    format!("{}/validators/{}/state", run_root(run), validator.to_ss58())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_window_and_never_collide() {
        let run = [0xab; 32];
        assert!(master(&run, 9) < master(&run, 10));
        assert!(master(&run, 99) < master(&run, 100));
        let miner = gradient_identity::Keypair::dev("m").account();
        let key = submission(&run, 3, &miner);
        assert!(key.starts_with(&submissions(&run, 3)));
        assert!(key.ends_with(&miner.to_ss58()));
        assert_ne!(master(&run, 3), aggregate(&run, 3));
    }
}
