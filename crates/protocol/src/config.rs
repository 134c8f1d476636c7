//! The run config: everything the subnet owner fixes for a run. Its blake3 (over canonical
//! JSON) is the run id every envelope names, so two runs can never be mixed up.

use serde::{Deserialize, Serialize};

use crate::error::ProtocolError;
use crate::scoring::chance_pass;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// A name for people; the id is the hash.
    pub name: String,
    /// Seeds the genesis master and every page assignment.
    pub seed: u64,
    pub model: ModelSpec,
    pub data: DataSpec,
    pub windows: WindowSpec,
    pub miner: MinerSpec,
    pub codec: gradient_codec::Settings,
    pub scoring: ScoringSpec,
    pub aggregation: AggregationSpec,
    pub limits: Limits,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A preset of the model crate: tiny, small, 150m, 1b.
    pub preset: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `bible` (bundled) or the location of a prepared dataset.
    pub source: String,
    /// `gpt2` or a tokenizer file's name as the data crate records it.
    pub tokenizer: String,
    pub seq_len: usize,
    pub seqs_per_page: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// The first block of window 0.
    pub genesis_block: u64,
    pub blocks_per_window: u64,
    /// Blocks after a window ends during which its submissions may still land.
    pub upload_grace_blocks: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinerSpec {
    /// Pages each miner must train on per window (round and round, as long as the window lasts).
    pub pages_per_window: usize,
    /// At most this many inner optimizer steps per window; the window's end stops training
    /// sooner on most machines.
    pub inner_steps: u64,
    pub batch_size: usize,
    pub lr: f64,
    /// The inner rate of window w follows a cosine over this many windows, from `lr` down to
    /// a tenth of it, and stays there (0: `lr` in every window). One machine anneals its rate
    /// over the run; a network that never does ends where the constant rate's noise lets it.
    /// Left out of the config when 0.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub lr_decay_windows: u64,
    pub warmup_steps: u64,
    pub weight_decay: f64,
    pub grad_clip: f64,
}

impl MinerSpec {
    /// The floor of the window schedule, as a fraction of `lr`.
    pub const MIN_LR_RATIO: f64 = 0.1;

    /// The inner rate after warmup in `window`: the run's cosine taken at the window's middle,
    /// so the rates of a run's windows average to the cosine's mean.
    pub fn lr_in_window(&self, window: u64) -> f64 {
        if self.lr_decay_windows == 0 {
            return self.lr;
        }
        let progress = ((window as f64 + 0.5) / self.lr_decay_windows as f64).min(1.0);
        let min = self.lr * Self::MIN_LR_RATIO;
        min + 0.5 * (self.lr - min) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringSpec {
    /// Held-out pages drawn after the window closes, on which every delta is judged.
    pub eval_pages: usize,
    /// The split they are drawn from. Left out of the config when `validation`.
    #[serde(default, skip_serializing_if = "EvalSplit::is_validation")]
    pub eval_split: EvalSplit,
    /// How many of a miner's assigned pages show that it trained on them.
    pub own_pages: usize,
    /// Own pages are drawn from the first this many assigned pages (0: from all of them).
    /// Miners train their pages in order and the window's time decides how far they get, so
    /// a miner that did fewer steps than its pages need is judged on pages it trained; with
    /// one pass over fresh pages, a page it never reached would look like no work. Trained
    /// first, they also show the work best: trained last instead (the window's last steps),
    /// honest deltas gained 0.01 more on them than on the evaluation pages where in order they
    /// gained 0.06 to 0.17, and 4 of 5 were refused in window 0 (`gradient bench quality
    /// --miners 5 --windows 2 --steps-per-window 45 --pages-per-window 30 --seed 1`, a
    /// variant of the miner). Left out of the config when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub own_pages_among: usize,
    /// Pairs of an own page and an evaluation page in which the own page may gain no more and
    /// the miner still count as having trained (`scoring::score`'s rank test); `None`: no rank
    /// test, the mean advantage alone. Left out of the config when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_page_inversions: Option<usize>,
    /// The allowance for a miner whose delta of the previous window passed the rank test
    /// (`scoring::score`); `None`: the same allowance for everyone. Left out of the config when
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_page_inversions_vouched: Option<usize>,
    /// Where a delta's own-page check fails on raw gains ([`crate::judging::needs_controls`]),
    /// other submissions of the window measured on its miner's own pages too, at most this
    /// many, vouched ones first, picked by the window's seed ([`crate::judging::controls`]);
    /// the one that best explains its evaluation-page gains is the reference each page's gain
    /// is compared with (`Measurement::paired_gains`). 0: gains are compared as they are. Left
    /// out of the config when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub own_page_controls: usize,
    /// A miner's own pages must gain at least this much more loss reduction, on average, than
    /// the evaluation pages (it trained on them; a copier or a lazy miner did not).
    pub min_own_advantage: f64,
    /// Deltas are measured added at this weight. One miner's delta at full weight overshoots
    /// late in a run (alone it raises the loss where the mean of three lowers it), so its gain
    /// and its own-page advantage say little; at the weight an aggregate gives it (`1/top_k`)
    /// they measure what it brings. Left out of the config when 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub delta_weight: f64,
    /// Cosine similarity above which a later submission is a copy of an earlier one.
    pub copy_similarity: f64,
    /// Cosine similarity above which a later submission is judged only on what an earlier delta
    /// does not explain (see `judging`), and is not aggregated. Above what honest deltas of
    /// a window share (`gradient bench quality` prints the largest cosine). Left out when 1
    /// (off).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub overlap_similarity: f64,
    /// Weight of a new score in the moving average over windows.
    pub score_ema: f64,
    /// A submission scoring below this fraction of the window's best earns nothing and is not
    /// aggregated: noise that happens to lower the loss a little is not work.
    pub min_relative_score: f64,
}

impl ScoringSpec {
    /// The same own-page check on `own` pages, the first `own` assigned ones: the rank test's
    /// allowances become the largest whose chance of passing a delta without work
    /// ([`crate::scoring::chance_pass`]) is no higher than the current ones'. More pages
    /// tell work from chance better at the same false-pass chance: with 6 own pages and 8
    /// evaluation pages, 4 inversions of 48 (0.40%, as 1 of 32 with 4) and 11 for a vouched
    /// miner (5.4%, as 6 of 32), and an honest delta whose own pages rank below one outlying
    /// evaluation page is no longer refused. Every miner must reach its `own` first pages in
    /// every window (2 steps a page at the devnet's batch), or its untrained ones count
    /// against it.
    pub fn with_own_pages(&self, own: usize) -> ScoringSpec {
        let eval = self.eval_pages;
        let same_chance = |allowed: Option<usize>| {
            allowed.map(|a| {
                let chance = chance_pass(self.own_pages, eval, a);
                (0..=own * eval)
                    .take_while(|&b| chance_pass(own, eval, b) <= chance * (1.0 + 1e-9))
                    .last()
                    .unwrap_or(0)
            })
        };
        ScoringSpec {
            own_pages: own,
            own_pages_among: own,
            own_page_inversions: same_chance(self.own_page_inversions),
            own_page_inversions_vouched: same_chance(self.own_page_inversions_vouched),
            ..self.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregationSpec {
    /// How many of the best submissions make the next master.
    pub top_k: usize,
    /// Nesterov outer step.
    pub outer_lr: f32,
    pub outer_momentum: f32,
    /// How the chosen deltas are averaged. Left out of the config (and so of the run id) when
    /// it is the default, so runs made before it existed keep their id.
    #[serde(default, skip_serializing_if = "Average::is_mean")]
    pub average: Average,
    /// Which submissions may be aggregated (the best `top_k` of them). Left out when default.
    #[serde(default, skip_serializing_if = "Include::is_positive")]
    pub include: Include,
    /// The outer rate of window 0's step, where it differs from `outer_lr`; left out when
    /// there is none. Window 0's deltas leave a random initialisation, where every miner's
    /// gradient points the same way and their mean is already a full step; in later windows
    /// each batch-4 step is shorter along the shared direction than one machine's step on the
    /// miners' joint batch, so a rate above 1 gives the master back part of that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_outer_lr: Option<f32>,
}

impl AggregationSpec {
    /// The outer rate of the step that window `window`'s deltas make (master `window + 1`).
    pub fn outer_lr_at(&self, window: u64) -> f32 {
        match self.first_outer_lr {
            Some(first) if window == 0 => first,
            _ => self.outer_lr,
        }
    }
}

/// Where the evaluation pages come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalSplit {
    /// The validation split, which no miner is assigned.
    #[default]
    Validation,
    /// The training split, less the pages the judged miner was assigned: the split its own
    /// pages come from, so that what helps any training page alike (another miner's delta,
    /// the network's last step, training on the split at large) shows no own-page advantage.
    /// With the validation split, any delta trained on training pages, anyone's, gained more
    /// on a miner's own pages than on the evaluation pages: the split's vocabulary and style,
    /// not the miner's work, made the advantage, and echoed or mixed deltas were paid.
    Training,
}

impl EvalSplit {
    fn is_validation(&self) -> bool {
        *self == EvalSplit::Validation
    }
}

/// Which submissions the aggregate may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    /// Only those with a positive score (after the cut below the best).
    #[default]
    Positive,
    /// Every submission that passed the checks and lowered the loss on its own pages, best
    /// score first, even one cut below the best or one that alone did not lower the
    /// evaluation loss: scores are paid, not aggregated. (Noise measured at the step's length
    /// can pass the own-page check by chance, but it raises the loss on its own pages.)
    Accepted,
    /// Every submission that passed the checks and the own-page check, best score first,
    /// whatever its evaluation gain: one honest delta at a third of its size moves the loss on
    /// eight pages by less than their noise late in a run, so a gain below zero is no sign of
    /// harm, and selecting on it left windows with one member or none (`gradient bench quality`).
    Trained,
}

impl Include {
    fn is_positive(&self) -> bool {
        *self == Include::Positive
    }
}

/// How the chosen (clipped) deltas are averaged into the update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Average {
    /// Every coordinate's sum divided by the number of deltas.
    #[default]
    Mean,
    /// Every coordinate's sum divided by the number of deltas that sent it: sparse deltas
    /// with different supports are not thinned by the ones that left a coordinate out.
    Support,
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A rate: above zero and finite (NaN is neither).
fn positive(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Average {
    fn is_mean(&self) -> bool {
        *self == Average::Mean
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The largest submission a validator downloads.
    pub max_submission_bytes: u64,
    /// The largest master or aggregate anyone downloads.
    pub max_master_bytes: u64,
}

impl RunConfig {
    /// A run that trains the tiny model on the bundled corpus in windows of a few seconds.
    pub fn devnet(genesis_block: u64) -> Self {
        RunConfig {
            name: "devnet".into(),
            seed: 42,
            model: ModelSpec {
                preset: "tiny".into(),
            },
            data: DataSpec {
                source: "bible".into(),
                tokenizer: "gpt2".into(),
                seq_len: 128,
                seqs_per_page: 8,
            },
            windows: WindowSpec {
                genesis_block,
                blocks_per_window: 24,
                upload_grace_blocks: 4,
            },
            miner: MinerSpec {
                // About one pass in a window on two cores (28 steps of 4 sequences = 14 pages
                // of 8): each page is seen once, and the own-page check looks only at the
                // first four, which every miner reaches.
                pages_per_window: 16,
                inner_steps: 10_000,
                batch_size: 4,
                lr: 3e-3,
                lr_decay_windows: 0,
                warmup_steps: 5,
                weight_decay: 0.1,
                grad_clip: 1.0,
            },
            // Matrices as rank-8 factors, the token embedding as rank-2 factors and the 4% of
            // its rows the factors leave most of (the rows of the tokens trained on) at 2-bit
            // codes, 105x smaller than dense f32: 5.450 in `gradient bench quality` where 1.2%
            // of rows at 8 bits (the same bytes) ended at 5.480, rank-4 factors everywhere
            // (112x) at 5.55, and top-k at 0.78% kept little of a window's work.
            codec: gradient_codec::Settings {
                rank: 8,
                factors: vec![gradient_codec::Factoring {
                    tensor: "model.embed_tokens.weight".into(),
                    rank: 2,
                    rows_per_mille: 40,
                    row_bits: 2,
                }],
                ..gradient_codec::Settings::default()
            },
            scoring: ScoringSpec {
                // The rank test on training pages: own pages must out-gain the evaluation
                // pages in all of the 32 pairs but one (chance 2 in 495 without work), or all
                // but 6 for a miner that passed in its previous window. Honest deltas showed 0
                // in 46 of 50 and up to 4 late in `gradient bench quality --miners 5 --windows
                // 10 --steps-per-window 12 --pages-per-window 6 --no-baseline`, up to 5 in a
                // default devnet; adversaries 2 to 26 (docs/protocol.md).
                eval_pages: 8,
                eval_split: EvalSplit::Training,
                own_pages: 4,
                own_pages_among: 4,
                own_page_inversions: Some(1),
                own_page_inversions_vouched: Some(6),
                // A delta that fails the check raw is paired with two other deltas on the
                // same pages (vouched ones first): a page's content decides most of what any
                // delta gains on it, and raw, honest deltas of a first window or of long
                // windows ranked with up to 13 inversions. Deltas that pass raw cost nothing
                // more to judge (docs/protocol.md).
                own_page_controls: 2,
                delta_weight: 1.0 / 3.0,
                min_own_advantage: 0.0,
                // Copies and resent deltas are near 1; honest deltas of one window reach 0.9
                // late in a run whose rate has annealed. A copy made to look different earns
                // only its own-page advantage (`scoring::score`), which others' work lacks.
                copy_similarity: 0.98,
                overlap_similarity: 1.0,
                score_ema: 0.5,
                min_relative_score: 0.2,
            },
            // Plain outer SGD at rate 1, as SparseLoCo: the Nesterov step on top of error
            // feedback overshot. 1.25 after window 0 gained 0.027 in the quality benchmark
            // (5.453 against 5.480) but, in windows too short for miners to move onto master
            // `w` (`tests/network.rs`'s devnet without adversaries at one-second blocks), 4 of
            // 27 honest deltas after window 0 were refused as not trained, against 3 of 36 at
            // 1: a weak signal, kept on the side of paying honest work.
            aggregation: AggregationSpec {
                top_k: 3,
                outer_lr: 1.0,
                outer_momentum: 0.0,
                average: Average::Mean,
                // Every delta that showed work on its pages: choosing by evaluation gain
                // left late windows of the quality tests with one member or none.
                include: Include::Trained,
                first_outer_lr: None,
            },
            limits: Limits {
                max_submission_bytes: 64 << 20,
                max_master_bytes: 4 << 30,
            },
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, ProtocolError> {
        let config: RunConfig =
            toml::from_str(text).map_err(|e| ProtocolError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a run config always serialises")
    }

    /// The run id: blake3 of the config's canonical JSON.
    pub fn id(&self) -> [u8; 32] {
        let json = serde_json::to_vec(self).expect("a run config always serialises");
        *blake3::keyed_hash(&blake3::hash(b"gradient run id v1").into(), &json).as_bytes()
    }

    pub fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |why: &str| Err(ProtocolError::Config(why.to_string()));
        if self.windows.blocks_per_window == 0 {
            return bad("windows.blocks_per_window must be positive");
        }
        if self.windows.upload_grace_blocks >= self.windows.blocks_per_window {
            return bad("windows.upload_grace_blocks must be shorter than a window");
        }
        if self.miner.inner_steps == 0 || self.miner.batch_size == 0 {
            return bad("miner.inner_steps and miner.batch_size must be positive");
        }
        if self.miner.pages_per_window == 0 {
            return bad("miner.pages_per_window must be positive");
        }
        if !positive(self.miner.lr) {
            return bad("miner.lr must be a positive number");
        }
        if self.data.seq_len == 0 || self.data.seqs_per_page == 0 {
            return bad("data.seq_len and data.seqs_per_page must be positive");
        }
        if !(self.scoring.delta_weight > 0.0 && self.scoring.delta_weight <= 1.0) {
            return bad("scoring.delta_weight must be in (0, 1]");
        }
        if self.scoring.eval_pages == 0 {
            return bad("scoring.eval_pages must be positive");
        }
        if !(0.0..=1.0).contains(&self.scoring.score_ema) || self.scoring.score_ema == 0.0 {
            return bad("scoring.score_ema must be in (0, 1]");
        }
        if !(0.0..1.0).contains(&self.scoring.min_relative_score) {
            return bad("scoring.min_relative_score must be in [0, 1)");
        }
        if !(-1.0..=1.0).contains(&self.scoring.copy_similarity) {
            return bad("scoring.copy_similarity must be a cosine, in [-1, 1]");
        }
        if !(-1.0..=1.0).contains(&self.scoring.overlap_similarity) {
            return bad("scoring.overlap_similarity must be a cosine, in [-1, 1]");
        }
        if let Some(vouched) = self.scoring.own_page_inversions_vouched {
            match self.scoring.own_page_inversions {
                None => {
                    return bad("scoring.own_page_inversions_vouched needs own_page_inversions");
                }
                Some(strict) if vouched < strict => {
                    return bad(
                        "scoring.own_page_inversions_vouched must be at least own_page_inversions",
                    );
                }
                Some(_) => {}
            }
        }
        if self.aggregation.top_k == 0 {
            return bad("aggregation.top_k must be positive");
        }
        let lr = self.aggregation.outer_lr;
        let mu = self.aggregation.outer_momentum;
        if !(positive(lr.into()) && (0.0..1.0).contains(&mu)) {
            return bad("aggregation.outer_lr must be positive and outer_momentum in [0, 1)");
        }
        if let Some(first) = self.aggregation.first_outer_lr
            && !positive(first.into())
        {
            return bad("aggregation.first_outer_lr must be positive where it is given");
        }
        self.codec
            .validate()
            .map_err(|e| ProtocolError::Config(format!("codec: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_own_pages_keep_the_chance_of_a_pass_without_work() {
        let four = RunConfig::devnet(0).scoring;
        assert_eq!(four.with_own_pages(4), four);
        let six = four.with_own_pages(6);
        assert_eq!((six.own_pages, six.own_pages_among), (6, 6));
        assert_eq!(six.own_page_inversions, Some(4));
        assert_eq!(six.own_page_inversions_vouched, Some(11));
        let strict = |s: &ScoringSpec, a| chance_pass(s.own_pages, s.eval_pages, a);
        assert!(strict(&six, 4) <= strict(&four, 1) && strict(&six, 5) > strict(&four, 1));
        // Without a rank test there is none to keep.
        let none = ScoringSpec {
            own_page_inversions: None,
            own_page_inversions_vouched: None,
            ..four
        };
        assert_eq!(none.with_own_pages(6).own_page_inversions, None);
    }

    #[test]
    fn toml_round_trip_and_stable_id() {
        let config = RunConfig::devnet(100);
        let text = config.to_toml();
        let back = RunConfig::from_toml(&text).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.id(), config.id());
        let mut other = config.clone();
        other.seed += 1;
        assert_ne!(other.id(), config.id());
    }

    #[test]
    fn inner_rate_anneals_over_the_run_then_holds() {
        let mut miner = RunConfig::devnet(0).miner;
        assert_eq!(miner.lr_in_window(0), miner.lr);
        assert_eq!(miner.lr_in_window(1_000), miner.lr);
        miner.lr_decay_windows = 6;
        let rates: Vec<f64> = (0..8).map(|w| miner.lr_in_window(w)).collect();
        assert!(
            rates[0] < miner.lr && rates[0] > 0.98 * miner.lr,
            "{rates:?}"
        );
        assert!(rates.windows(2).take(5).all(|r| r[1] < r[0]), "{rates:?}");
        let floor = miner.lr * MinerSpec::MIN_LR_RATIO;
        assert!(rates[5] > floor && rates[5] < 1.2 * floor, "{rates:?}");
        assert_eq!(rates[6], floor);
        assert_eq!(rates[7], floor);
        // Symmetric about the run's middle: the mean rate is the cosine's.
        let mean = rates[..6].iter().sum::<f64>() / 6.0;
        assert!((mean - (miner.lr + floor) / 2.0).abs() < 1e-12, "{mean}");
        // Left out of the config when 0, so runs written before it keep their id.
        assert!(!RunConfig::devnet(0).to_toml().contains("lr_decay_windows"));
    }

    #[test]
    fn window_zero_takes_its_own_outer_rate() {
        let mut run = RunConfig::devnet(0);
        run.aggregation.outer_lr = 1.5;
        run.aggregation.first_outer_lr = Some(1.0);
        let rates: Vec<f32> = (0..3).map(|w| run.aggregation.outer_lr_at(w)).collect();
        assert_eq!(rates, [1.0, 1.5, 1.5]);
        run.aggregation.first_outer_lr = None;
        assert_eq!(run.aggregation.outer_lr_at(0), 1.5);
        // Left out of the config when there is none, so runs written before it keep their id.
        assert!(!run.to_toml().contains("first_outer_lr"));
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            run.aggregation.first_outer_lr = Some(bad);
            let err = run.validate().unwrap_err().to_string();
            assert!(err.contains("first_outer_lr"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let text = RunConfig::devnet(0).to_toml();
        let unknown = text.replace("seed = 42", "seed = 42\nsede = 1");
        assert!(
            RunConfig::from_toml(&unknown)
                .unwrap_err()
                .to_string()
                .contains("sede")
        );
        let zero = text.replace("blocks_per_window = 24", "blocks_per_window = 0");
        let err = RunConfig::from_toml(&zero).unwrap_err().to_string();
        assert!(err.contains("blocks_per_window"), "{err}");
        let mut mu = RunConfig::devnet(0);
        mu.aggregation.outer_momentum = 1.0;
        assert!(mu.validate().is_err());
    }
}
