//! Windows: fixed runs of blocks. In window `w` miners train and upload; after it closes
//! validators judge what arrived, by what they saw themselves while the window was open, never
//! by a time a miner's server writes.

use crate::config::WindowSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub genesis_block: u64,
    pub blocks_per_window: u64,
    pub upload_grace_blocks: u64,
}

impl From<&WindowSpec> for Windows {
    fn from(spec: &WindowSpec) -> Self {
        Windows {
            genesis_block: spec.genesis_block,
            blocks_per_window: spec.blocks_per_window,
            upload_grace_blocks: spec.upload_grace_blocks,
        }
    }
}

/// Where an upload falls, by a validator's own observations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    OnTime,
    /// Seen before its window began: it cannot have been trained on that window's pages.
    Early,
    /// Not there when the deadline passed.
    Late,
    /// The validator was not watching when the deadline passed (it was down), so it cannot
    /// tell; the upload is taken as on time rather than an honest miner paying for it.
    Unwatched,
}

impl Windows {
    /// The window containing `block`, or `None` before the run starts.
    pub fn window_at(&self, block: u64) -> Option<u64> {
        block
            .checked_sub(self.genesis_block)
            .map(|b| b / self.blocks_per_window)
    }

    pub fn start(&self, window: u64) -> u64 {
        self.genesis_block + window * self.blocks_per_window
    }

    /// The first block after `window`.
    pub fn end(&self, window: u64) -> u64 {
        self.start(window + 1)
    }

    /// The first block at which an upload for `window` is late.
    pub fn deadline(&self, window: u64) -> u64 {
        self.end(window) + self.upload_grace_blocks
    }

    /// Places an upload by what a validator saw while polling: `seen_at`, the head block of
    /// the poll that first found it; `watched_through`, the head block of its last poll of the
    /// window. A poll at head `h` means block `h` exists, so its time has passed. Tolerance: one
    /// block, so an upload first found by the poll at the deadline block is on time (polls are
    /// at most half a block apart).
    pub fn observed(
        &self,
        window: u64,
        seen_at: Option<u64>,
        watched_through: Option<u64>,
    ) -> Timing {
        let deadline = self.deadline(window);
        match seen_at {
            Some(block) if block < self.start(window) => Timing::Early,
            Some(block) if block <= deadline => Timing::OnTime,
            Some(_) => Timing::Late,
            None if watched_through.is_some_and(|h| h >= deadline) => Timing::Late,
            None => Timing::Unwatched,
        }
    }

    /// The head blocks at which a validator polls for `window`'s submissions: from the block
    /// before it starts (to see early ones) to the one after its deadline.
    pub fn watching(&self, window: u64, head: u64) -> bool {
        head + 1 >= self.start(window) && head <= self.deadline(window) + 1
    }

    /// The master a window's miners train from. Miners build on the master of two windows
    /// back, which exists a whole window before they need it, so they never wait for validators:
    /// window `w` trains from master `w - 1`, and its deltas make master `w + 1` from master `w`.
    pub fn base_master(&self, window: u64) -> u64 {
        window.saturating_sub(1)
    }

    /// The masters a submission for `window` may name as its base: the window's base master, or
    /// the master its delta is applied to (master `window`), which a miner moves onto once it
    /// is published mid-window (its steps after that are not stale). Either way the delta is
    /// measured and applied on master `window`.
    pub fn accepted_bases(&self, window: u64) -> [u64; 2] {
        [self.base_master(window), window]
    }

    /// The last window that is closed and past its deadline at `block`: the one validators can
    /// judge now.
    pub fn judgeable(&self, block: u64) -> Option<u64> {
        let window = self.window_at(block.checked_sub(self.upload_grace_blocks)?)?;
        window.checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_the_blocks() {
        let w = Windows {
            genesis_block: 100,
            blocks_per_window: 10,
            upload_grace_blocks: 2,
        };
        assert_eq!(w.window_at(99), None);
        assert_eq!(w.window_at(100), Some(0));
        assert_eq!(w.window_at(109), Some(0));
        assert_eq!(w.window_at(110), Some(1));
        assert_eq!((w.start(1), w.end(1), w.deadline(1)), (110, 120, 122));
        // Window 0 can be judged once its deadline (block 112) has passed.
        assert_eq!(w.judgeable(111), None);
        assert_eq!(w.judgeable(112), Some(0));
        assert_eq!(w.judgeable(121), Some(0));
        assert_eq!(w.judgeable(122), Some(1));
        assert_eq!(
            (w.base_master(0), w.base_master(1), w.base_master(5)),
            (0, 0, 4)
        );
        assert_eq!(w.accepted_bases(0), [0, 0]);
        assert_eq!(w.accepted_bases(5), [4, 5]);
        // Window 1 starts at 110, its deadline is 122.
        assert_eq!(w.observed(1, Some(109), None), Timing::Early);
        assert_eq!(w.observed(1, Some(110), Some(123)), Timing::OnTime);
        assert_eq!(w.observed(1, Some(122), Some(122)), Timing::OnTime);
        assert_eq!(w.observed(1, Some(123), Some(123)), Timing::Late);
        // Not seen by a poll at the deadline: it came after.
        assert_eq!(w.observed(1, None, Some(122)), Timing::Late);
        // The validator stopped watching before the deadline, or never watched.
        assert_eq!(w.observed(1, None, Some(121)), Timing::Unwatched);
        assert_eq!(w.observed(1, None, None), Timing::Unwatched);
        assert!(!w.watching(1, 108));
        assert!(w.watching(1, 109) && w.watching(1, 123));
        assert!(!w.watching(1, 124));
    }
}
