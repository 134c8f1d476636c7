//! Gradient's rules, pure: no I/O and no clock. Time arrives as block numbers and timestamps,
//! randomness as seeds, so two validators given the same inputs agree to the bit.
//!
//! - [`RunConfig`]: what the subnet owner fixes; its hash is the run id.
//! - [`Windows`]: which blocks make a window; when an upload is on time, by what a validator
//!   saw while polling.
//! - [`judging`]: a window judged in one step: [`judging::plan`] (copies, overlap, the length
//!   every delta is measured at), then [`judging::decide`] (scores, the aggregate's members).
//! - [`scoring`]: a submission's score from measured losses, or why it earns nothing; smoothing,
//!   weights.
//! - [`aggregate`]: the best submissions, clipped and averaged, and the outer Nesterov step.
//!
//! ```
//! use gradient_protocol::{RunConfig, Windows};
//! let run = RunConfig::devnet(100);
//! let windows = Windows::from(&run.windows);
//! assert_eq!(windows.window_at(100 + 24), Some(1));
//! ```
pub mod aggregate;
pub mod config;
pub mod error;
pub mod judging;
pub mod scoring;
pub mod window;

pub use config::{EvalSplit, RunConfig};
pub use error::ProtocolError;
pub use scoring::{Measurement, PageLoss, Rejection};
pub use window::{Timing, Windows};
