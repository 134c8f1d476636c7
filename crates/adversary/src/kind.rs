//! The kinds of hostile miner, each a different way to be paid without training its own pages.

/// What a hostile miner submits. The rule that defeats each is in docs/protocol.md's threat
/// table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A random delta of about an honest window's size.
    Noise,
    /// A zero delta.
    Lazy,
    /// Another miner's submission of the window, re-signed, once it appears.
    Copy,
    /// Trains honestly, but on the master before its base.
    Stale,
    /// A zero delta uploaded after the deadline (its server may claim any time).
    Late,
    /// Random bytes.
    Garbage,
    /// Its previous window's object, uploaded again unchanged.
    Replay,
    /// Trains one step and submits a hundred times its delta, to be paid for a larger change.
    Inflate,
    /// Trains one step, scales it to the size of another miner's submission of the window and
    /// adds that: half of it its own, so it is not a copy, and the other half already works.
    Mix,
    /// Submits the master's last outer step (master w minus master w-1) as its delta: the
    /// network's own direction, no work.
    Echo,
    /// Trains as long as an honest miner, but on the validation split the evaluation pages are
    /// drawn from, not on its assigned pages.
    Elsewhere,
    /// Trains its first window honestly but keeps the delta back, then submits it in every
    /// later window, signed anew for the window's base: one window's work sold many times,
    /// never seen by the copy check.
    Resign,
    /// Takes a member of the previous window's aggregate (its payload is public: the record
    /// names it) and submits it as its own for this window.
    Previous,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Noise,
        Kind::Lazy,
        Kind::Copy,
        Kind::Stale,
        Kind::Late,
        Kind::Garbage,
        Kind::Replay,
        Kind::Inflate,
        Kind::Mix,
        Kind::Echo,
        Kind::Elsewhere,
        Kind::Resign,
        Kind::Previous,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Noise => "noise",
            Kind::Lazy => "lazy",
            Kind::Copy => "copy",
            Kind::Stale => "stale",
            Kind::Late => "late",
            Kind::Garbage => "garbage",
            Kind::Replay => "replay",
            Kind::Inflate => "inflate",
            Kind::Mix => "mix",
            Kind::Echo => "echo",
            Kind::Elsewhere => "elsewhere",
            Kind::Resign => "resign",
            Kind::Previous => "previous",
        }
    }

    /// Whether it trains (and so needs a share of the machine's cores in a devnet).
    pub fn trains(self) -> bool {
        matches!(self, Kind::Stale | Kind::Elsewhere | Kind::Resign)
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown adversary {s:?}: one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_listed() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>(), Ok(kind));
        }
        let err = "sneaky".parse::<Kind>().unwrap_err();
        assert!(err.contains("sneaky") && err.contains("previous"), "{err}");
    }
}
