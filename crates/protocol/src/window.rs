//! Windows: fixed runs of blocks. In window `w` miners train and upload; after it closes
//! validators judge what arrived, by block timestamps, never by clocks a miner controls.

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

/// Why a submission's upload time is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    OnTime,
    /// Uploaded before its window began: it cannot have been trained on that window's master.
    Early,
    /// Uploaded after the window's deadline.
    Late,
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

    /// Judges an upload time against the timestamps of the window's first block and of its
    /// deadline block.
    pub fn timing(&self, uploaded_ms: u64, start_ms: u64, deadline_ms: u64) -> Timing {
        if uploaded_ms < start_ms {
            Timing::Early
        } else if uploaded_ms >= deadline_ms {
            Timing::Late
        } else {
            Timing::OnTime
        }
    }

    /// The master a window's miners train from. Miners build on the master of two windows
    /// back, which exists a whole window before they need it, so they never wait for validators:
    /// window `w` trains from master `w - 1`, and its deltas make master `w + 1` from master `w`.
    pub fn base_master(&self, window: u64) -> u64 {
        window.saturating_sub(1)
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
        assert_eq!(w.timing(5, 10, 20), Timing::Early);
        assert_eq!(w.timing(10, 10, 20), Timing::OnTime);
        assert_eq!(w.timing(20, 10, 20), Timing::Late);
    }
}
