//! `[node.aggregation]` and `[node.reputation]`: how a node combines its
//! peers' models and scores them, as scenario keys.
//!
//! Defaults are node-core's: the paper's trimmed mean (β = 0.2) over peers
//! that are not banned, and the paper's EMA reputation (γ = 0.05, start 0.5,
//! ban below 0.2, agreement = RMS distance to the aggregate ≤ 0.3).

use node_core::aggregate::{
    AdaptiveConfig, BulyanConfig, Center, CenteredClippingConfig, Faults, GeometricMedianConfig,
    KrumConfig, KrumNeighbours, MAX_ITERATIONS, MAX_PRE, Maturity, MeamedConfig, MonnaConfig,
    Pipeline, PreAggregator, Rule, TrimConfig, WeightedConfig, WeightedTrimConfig,
};
use node_core::node::AggregationConfig as CoreAggregation;
use node_core::reputation::{self, InfluenceCap, ReputationConfig as CoreReputation, UpdateRule};
use serde::{Deserialize, Serialize};

use crate::fixed::from_f64;
use crate::validate::{Validate, Validator};

/// The aggregation rule.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Plain mean.
    Mean,
    /// Coordinate-wise trimmed mean.
    TrimmedMean,
    /// Coordinate-wise median.
    Median,
    /// Krum: the single update closest to its neighbours.
    Krum,
    /// Multi-Krum: mean of the `multi_krum_m` best-scored updates.
    MultiKrum,
    /// Reputation-weighted mean with capped shares.
    ReputationWeighted,
    /// Coordinate-wise trimmed mean, then a reputation-weighted mean of the
    /// kept values (the paper's weighted trimmed mean; default).
    #[default]
    WeightedTrimmedMean,
    /// Trimmed mean while young, reputation-weighted once mature.
    Adaptive,
    /// Bulyan: recursive Krum selection, then the mean around the median.
    Bulyan,
    /// Smoothed Weiszfeld geometric median.
    GeometricMedian,
    /// Centered clipping around the node's own model (or the median).
    CenteredClipping,
    /// Per coordinate, the mean of the n − f values closest to the median.
    Meamed,
    /// Mean of the n − f models nearest the node's own.
    Monna,
}

/// Krum's neighbours per score.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KrumNeighboursKind {
    /// n − f − 2 (the Krum paper; default).
    #[default]
    Paper,
    /// n − f − 1 (as ByzFL computes it).
    Byzfl,
}

/// Centered clipping's starting center.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CenterKind {
    /// The node's own model (default).
    #[default]
    Own,
    /// The coordinate-wise median.
    Median,
}

/// A pre-aggregation step.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PreKind {
    /// Nearest-neighbour mixing (f from `krum_f` / `f_fraction`).
    Nnm,
    /// Seeded bucketing into buckets of `bucket_size`.
    Bucketing,
    /// Static clipping to L2 norm `clip_norm`.
    Clipping,
}

/// Up to [`MAX_PRE`] pre-aggregators, in order (a fixed array so the
/// configuration stays `Copy`; read and written as a TOML array).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(try_from = "Vec<PreKind>", into = "Vec<PreKind>")]
pub struct PreList {
    steps: [Option<PreKind>; MAX_PRE],
}

impl PreList {
    /// The steps, in order.
    pub fn steps(&self) -> impl Iterator<Item = PreKind> + '_ {
        self.steps.iter().map_while(|s| *s)
    }
}

impl TryFrom<Vec<PreKind>> for PreList {
    type Error = String;

    fn try_from(list: Vec<PreKind>) -> Result<PreList, String> {
        if list.len() > MAX_PRE {
            return Err(format!(
                "at most {MAX_PRE} pre-aggregators (of \"nnm\", \"bucketing\", \"clipping\"), found {}",
                list.len()
            ));
        }
        let mut steps = [None; MAX_PRE];
        for (slot, step) in steps.iter_mut().zip(list) {
            *slot = Some(step);
        }
        Ok(PreList { steps })
    }
}

impl From<PreList> for Vec<PreKind> {
    fn from(list: PreList) -> Vec<PreKind> {
        list.steps().collect()
    }
}

/// The influence cap of the reputation-weighted rules.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CapKind {
    /// share ≤ 0.8·rep³ (the README's rule as a share cap).
    Paper,
    /// share ≤ min(rep³, 0.8) (the seed code's).
    SeedMin,
    /// weight = 0.8·rep^e, shares uncapped (the paper's text; default).
    #[default]
    PaperWeight,
    /// No cap.
    None,
}

/// When the adaptive aggregator counts the swarm as mature.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MaturityKind {
    /// After `mature_rounds` rounds whose aggregate moved ≤ `converge_epsilon`.
    #[default]
    Convergence,
    /// The seed code's rule (≥ 3 banned and ≤ 1 % banned).
    Seed,
}

/// `[node.aggregation]` keys.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AggregationConfig {
    /// The rule.
    pub rule: RuleKind,
    /// Fraction trimmed from each end per coordinate, [0, 0.5].
    pub trim_fraction: f64,
    /// Krum's assumed number of Byzantine contributions f.
    pub krum_f: u32,
    /// Multi-Krum's number of selected updates m.
    pub multi_krum_m: u32,
    /// Use the paper's adaptive exponent by swarm size ("Rule 4": 2 below
    /// 20 nodes, 3 up to 50, 3.5 above) instead of `exponent`.
    pub adaptive_exponent: bool,
    /// Exponent e of the weight rep^e when `adaptive_exponent` is false
    /// (0: every peer weighs the same).
    pub exponent: f64,
    /// Influence cap of the reputation-weighted rules.
    pub cap: CapKind,
    /// Contributions with reputation below this are left out, [0, 1].
    pub min_reputation: f64,
    /// Maturity rule of the adaptive aggregator.
    pub maturity: MaturityKind,
    /// Largest per-coordinate move of a converged round.
    pub converge_epsilon: f64,
    /// Converged rounds in a row before the swarm is mature.
    pub mature_rounds: u32,
    /// When > 0, f = ⌊f_fraction·n⌋ of each round's n instead of `krum_f`.
    pub f_fraction: f64,
    /// Krum's (and Bulyan's selection's) neighbours per score.
    pub krum_neighbours: KrumNeighboursKind,
    /// Geometric median: Weiszfeld iterations.
    pub gm_iterations: u32,
    /// Geometric median: smoothing ν.
    pub gm_smoothing: f64,
    /// Centered clipping: radius τ.
    pub cc_radius: f64,
    /// Centered clipping: iterations L.
    pub cc_iterations: u32,
    /// Centered clipping: starting center.
    pub cc_center: CenterKind,
    /// Pre-aggregators applied before the rule, in order.
    pub pre: PreList,
    /// Bucketing: bucket size s.
    pub bucket_size: u32,
    /// Static clipping: largest L2 norm C.
    pub clip_norm: f64,
}

impl Default for AggregationConfig {
    fn default() -> AggregationConfig {
        AggregationConfig {
            rule: RuleKind::WeightedTrimmedMean,
            trim_fraction: 0.2,
            krum_f: 1,
            multi_krum_m: 3,
            adaptive_exponent: true,
            exponent: 3.0,
            cap: CapKind::PaperWeight,
            min_reputation: 0.2,
            maturity: MaturityKind::Convergence,
            converge_epsilon: 0.01,
            mature_rounds: 30,
            f_fraction: 0.0,
            krum_neighbours: KrumNeighboursKind::Paper,
            gm_iterations: 8,
            gm_smoothing: 1.0 / 1024.0,
            cc_radius: 1.0,
            cc_iterations: 3,
            cc_center: CenterKind::Own,
            pre: PreList::default(),
            bucket_size: 2,
            clip_norm: 1.0,
        }
    }
}

impl AggregationConfig {
    /// The node-core aggregation of a node in a swarm of `swarm_size`
    /// nodes: with `adaptive_exponent` the exponent is Rule 4's for that
    /// size, else `exponent` as written (0 included: `rep^0 = 1`).
    pub fn to_core(&self, swarm_size: u32) -> CoreAggregation {
        let trim = TrimConfig {
            beta_bp: (self.trim_fraction * 10_000.0).round() as u32,
        };
        let exponent = if self.adaptive_exponent {
            reputation::adaptive_exponent(swarm_size)
        } else {
            from_f64(self.exponent)
        };
        let cap = match self.cap {
            CapKind::Paper => InfluenceCap::PaperScaledCube,
            CapKind::SeedMin => InfluenceCap::SeedMinCube,
            CapKind::PaperWeight => InfluenceCap::PaperScaledWeight,
            CapKind::None => InfluenceCap::Uncapped,
        };
        let weighted = WeightedConfig {
            exponent,
            cap,
            min_reputation: from_f64(self.min_reputation),
        };
        let rule = match self.rule {
            RuleKind::Mean => Rule::Mean,
            RuleKind::TrimmedMean => Rule::TrimmedMean(trim),
            RuleKind::Median => Rule::Median,
            RuleKind::Krum => Rule::Krum(KrumConfig {
                f: self.faults(),
                m: 1,
                neighbours: self.neighbours(),
            }),
            RuleKind::MultiKrum => Rule::Krum(KrumConfig {
                f: self.faults(),
                m: self.multi_krum_m,
                neighbours: self.neighbours(),
            }),
            RuleKind::Bulyan => Rule::Bulyan(BulyanConfig {
                f: self.faults(),
                neighbours: self.neighbours(),
            }),
            RuleKind::GeometricMedian => Rule::GeometricMedian(GeometricMedianConfig {
                iterations: self.gm_iterations,
                smoothing: from_f64(self.gm_smoothing),
            }),
            RuleKind::CenteredClipping => Rule::CenteredClipping(CenteredClippingConfig {
                radius: from_f64(self.cc_radius),
                iterations: self.cc_iterations,
                center: match self.cc_center {
                    CenterKind::Own => Center::Own,
                    CenterKind::Median => Center::Median,
                },
            }),
            RuleKind::Meamed => Rule::Meamed(MeamedConfig { f: self.faults() }),
            RuleKind::Monna => Rule::Monna(MonnaConfig { f: self.faults() }),
            RuleKind::ReputationWeighted => Rule::ReputationWeighted(weighted),
            RuleKind::WeightedTrimmedMean => {
                Rule::WeightedTrimmedMean(WeightedTrimConfig { trim, weighted })
            }
            RuleKind::Adaptive => {
                let maturity = match self.maturity {
                    MaturityKind::Convergence => Maturity::Convergence {
                        epsilon: from_f64(self.converge_epsilon),
                        mature_rounds: self.mature_rounds,
                    },
                    MaturityKind::Seed => Maturity::SEED,
                };
                return CoreAggregation::Adaptive(AdaptiveConfig {
                    trim,
                    weighted,
                    maturity,
                });
            }
        };
        if self.pre.steps().next().is_none() {
            return CoreAggregation::Rule(rule);
        }
        let mut steps = [PreAggregator::Bucketing { size: 1 }; MAX_PRE];
        let mut count = 0;
        for (slot, step) in steps.iter_mut().zip(self.pre.steps()) {
            *slot = match step {
                PreKind::Nnm => PreAggregator::NearestNeighbourMixing(self.faults()),
                PreKind::Bucketing => PreAggregator::Bucketing {
                    size: self.bucket_size,
                },
                PreKind::Clipping => PreAggregator::Clipping {
                    norm: from_f64(self.clip_norm),
                },
            };
            count += 1;
        }
        // Validated keys make a valid pipeline; node-core checks it again.
        CoreAggregation::Pipeline(
            Pipeline::new(&steps[..count], rule).expect("validated pre-aggregators"),
        )
    }

    /// f: a fraction of each round's n if `f_fraction > 0`, else `krum_f`.
    fn faults(&self) -> Faults {
        if self.f_fraction > 0.0 {
            Faults::FractionBp((self.f_fraction * 10_000.0).round() as u32)
        } else {
            Faults::Count(self.krum_f)
        }
    }

    fn neighbours(&self) -> KrumNeighbours {
        match self.krum_neighbours {
            KrumNeighboursKind::Paper => KrumNeighbours::Paper,
            KrumNeighboursKind::Byzfl => KrumNeighbours::ByzFl,
        }
    }
}

impl Validate for AggregationConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("trim_fraction", self.trim_fraction, 0.0, 0.5);
        v.range("krum_f", self.krum_f, 0, 1_000);
        v.range("multi_krum_m", self.multi_krum_m, 1, 1_000);
        v.range("exponent", self.exponent, 0.0, 16.0);
        v.probability("min_reputation", self.min_reputation);
        v.range("converge_epsilon", self.converge_epsilon, 0.0, 1_000.0);
        v.range("mature_rounds", self.mature_rounds, 1, 1_000_000);
        v.range("f_fraction", self.f_fraction, 0.0, 0.5);
        v.require(
            self.f_fraction == 0.0 || self.krum_f == 1,
            "f_fraction",
            "0 when krum_f is set (f is either a count or a fraction)",
            self.f_fraction,
        );
        v.range("gm_iterations", self.gm_iterations, 1, MAX_ITERATIONS);
        v.require(
            self.gm_smoothing.is_finite()
                && self.gm_smoothing >= 1.0 / 65_536.0
                && self.gm_smoothing <= 1_000.0,
            "gm_smoothing",
            "a value in [1/65536, 1000] (ν > 0 in Q16.16)",
            self.gm_smoothing,
        );
        v.require(
            self.cc_radius.is_finite()
                && self.cc_radius >= 1.0 / 65_536.0
                && self.cc_radius <= 1_000.0,
            "cc_radius",
            "a value in [1/65536, 1000] (τ > 0 in Q16.16)",
            self.cc_radius,
        );
        v.range("cc_iterations", self.cc_iterations, 1, MAX_ITERATIONS);
        v.range("bucket_size", self.bucket_size, 1, 1_024);
        v.require(
            self.clip_norm.is_finite()
                && self.clip_norm >= 1.0 / 65_536.0
                && self.clip_norm <= 1_000.0,
            "clip_norm",
            "a value in [1/65536, 1000] (C > 0 in Q16.16)",
            self.clip_norm,
        );
        v.require(
            self.rule != RuleKind::Adaptive || self.pre.steps().next().is_none(),
            "pre",
            "[] with rule = \"adaptive\" (pre-aggregators compose with the stateless rules)",
            format_args!("{:?}", Vec::from(self.pre)),
        );
    }
}

/// The reputation update rule.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReputationRuleKind {
    /// R ← (1−γ)R + γ·PeerEval (the paper's §III-E; default).
    #[default]
    Ema,
    /// +reward on agreement, −penalty otherwise (the seed code's).
    Additive,
}

/// `[node.reputation]` keys.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReputationConfig {
    /// Update rule.
    pub rule: ReputationRuleKind,
    /// EMA rate γ, (0, 1].
    pub gamma: f64,
    /// Additive reward on agreement.
    pub reward: f64,
    /// Additive penalty on disagreement.
    pub penalty: f64,
    /// Score of a new peer, [0, 1].
    pub initial: f64,
    /// Scores below this ban the peer (sticky), [0, 1].
    pub ban_threshold: f64,
    /// Largest RMS distance to the aggregate that counts as agreement.
    pub agree_rms: f64,
    /// Per-round pull of silent peers toward `initial`, [0, 1].
    pub idle_decay: f64,
    /// Peers tracked per node.
    pub max_peers: u32,
}

impl Default for ReputationConfig {
    fn default() -> ReputationConfig {
        ReputationConfig {
            rule: ReputationRuleKind::Ema,
            gamma: 0.05,
            reward: 0.02,
            penalty: 0.08,
            initial: 0.5,
            ban_threshold: 0.2,
            agree_rms: 0.3,
            idle_decay: 0.0,
            max_peers: 32,
        }
    }
}

impl ReputationConfig {
    /// The node-core reputation configuration.
    pub fn to_core(&self, _swarm_size: u32) -> CoreReputation {
        let rule = match self.rule {
            ReputationRuleKind::Ema => UpdateRule::Ema {
                gamma: from_f64(self.gamma),
            },
            ReputationRuleKind::Additive => UpdateRule::Additive {
                reward: from_f64(self.reward),
                penalty: from_f64(self.penalty),
            },
        };
        CoreReputation {
            max_peers: self.max_peers,
            rule,
            initial: from_f64(self.initial),
            ban_threshold: from_f64(self.ban_threshold),
            agree_rms: from_f64(self.agree_rms),
            idle_decay: from_f64(self.idle_decay),
        }
    }
}

impl Validate for ReputationConfig {
    fn validate(&self, v: &mut Validator) {
        v.require(
            self.gamma > 0.0 && self.gamma <= 1.0,
            "gamma",
            "a value in (0, 1]",
            self.gamma,
        );
        v.probability("reward", self.reward);
        v.probability("penalty", self.penalty);
        v.probability("initial", self.initial);
        v.probability("ban_threshold", self.ban_threshold);
        v.range("agree_rms", self.agree_rms, 0.0, 1_000.0);
        v.probability("idle_decay", self.idle_decay);
        v.range("max_peers", self.max_peers, 1, 65_536);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use node_core::aggregate::{Contribution, Scratch};
    use node_core::q::{self, Q};

    use super::*;
    use crate::fixed::to_f64;
    use crate::scenario::Scenario;

    /// The `[node.aggregation]` of a scenario with these keys.
    fn aggregation(keys: &str) -> AggregationConfig {
        let text = format!("name = \"t\"\nnodes = 10\n[node.aggregation]\n{keys}\n");
        Scenario::parse(Path::new("t.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}"))
            .node
            .aggregation
    }

    fn weighted_of(core: CoreAggregation) -> WeightedConfig {
        match core {
            CoreAggregation::Rule(Rule::ReputationWeighted(w)) => w,
            CoreAggregation::Rule(Rule::WeightedTrimmedMean(c)) => c.weighted,
            CoreAggregation::Adaptive(c) => c.weighted,
            other => panic!("not a weighted rule: {other:?}"),
        }
    }

    #[test]
    fn the_exponent_follows_rule_4_by_default() {
        let config = aggregation("rule = \"reputation_weighted\"");
        assert!(config.adaptive_exponent);
        for (nodes, e) in [
            (1, 2.0),
            (19, 2.0),
            (20, 3.0),
            (50, 3.0),
            (51, 3.5),
            (1_000, 3.5),
        ] {
            let w = weighted_of(config.to_core(nodes));
            assert_eq!(w.exponent, from_f64(e), "{nodes} nodes");
        }
        // The adaptive aggregator's mature phase too.
        let adaptive = aggregation("rule = \"adaptive\"");
        assert_eq!(weighted_of(adaptive.to_core(100)).exponent, from_f64(3.5));
    }

    #[test]
    fn an_explicit_exponent_is_used_as_written() {
        let config = aggregation(
            "rule = \"reputation_weighted\"\nadaptive_exponent = false\nexponent = 2.5",
        );
        for nodes in [5, 30, 500] {
            assert_eq!(weighted_of(config.to_core(nodes)).exponent, from_f64(2.5));
        }
        let zero =
            aggregation("rule = \"reputation_weighted\"\nadaptive_exponent = false\nexponent = 0");
        assert_eq!(weighted_of(zero.to_core(100)).exponent, q::ZERO);
    }

    #[test]
    fn exponent_zero_gives_equal_weights() {
        // Reputations 1, 0.5 and 0.3, values 1, 2 and 6: equal weights give
        // the plain mean 3; Rule 4 (e = 2 for 10 nodes) weighs them 1, 0.25
        // and 0.09: 2.04 / 1.34 = 1.52.
        let values = [[from_f64(1.0)], [from_f64(2.0)], [from_f64(6.0)]];
        let reps = [1.0, 0.5, 0.3];
        let contributions: Vec<Contribution<'_>> = values
            .iter()
            .zip(reps)
            .enumerate()
            .map(|(i, (w, rep))| Contribution {
                peer: i as u32,
                weights: w,
                reputation: from_f64(rep),
            })
            .collect();
        let aggregate = |keys: &str| {
            let CoreAggregation::Rule(rule) = aggregation(keys).to_core(10) else {
                panic!("a rule");
            };
            let mut out = [q::ZERO];
            rule.aggregate(&contributions, &mut Scratch::new(), &mut out)
                .unwrap();
            out[0]
        };
        for cap in ["none", "paper_weight"] {
            let keys = format!(
                "rule = \"reputation_weighted\"\nadaptive_exponent = false\nexponent = 0\ncap = \"{cap}\""
            );
            assert_eq!(aggregate(&keys), Q::from_num(3), "cap {cap}");
        }
        let rule_4 = aggregate("rule = \"reputation_weighted\"\ncap = \"none\"");
        assert!((to_f64(rule_4) - 2.04 / 1.34).abs() < 1e-3, "{rule_4}");
    }

    #[test]
    fn weighted_trimmed_mean_and_the_weight_cap_are_scenario_keys() {
        let config = aggregation(
            "rule = \"weighted_trimmed_mean\"\ntrim_fraction = 0.3\ncap = \"paper_weight\"\nmin_reputation = 0.25",
        );
        let CoreAggregation::Rule(Rule::WeightedTrimmedMean(core)) = config.to_core(10) else {
            panic!("not the weighted trimmed mean");
        };
        assert_eq!(core.trim.beta_bp, 3_000);
        assert_eq!(core.weighted.cap, InfluenceCap::PaperScaledWeight);
        assert_eq!(core.weighted.exponent, from_f64(2.0));
        assert_eq!(core.weighted.min_reputation, from_f64(0.25));
        let caps = [
            ("paper", InfluenceCap::PaperScaledCube),
            ("seed_min", InfluenceCap::SeedMinCube),
            ("none", InfluenceCap::Uncapped),
        ];
        for (key, cap) in caps {
            let config = aggregation(&format!("rule = \"reputation_weighted\"\ncap = \"{key}\""));
            assert_eq!(weighted_of(config.to_core(10)).cap, cap);
        }
        let text = "name = \"t\"\nnodes = 10\n[node.aggregation]\ncap = \"weight\"\n";
        let error = Scenario::parse(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("paper_weight"), "{error}");
        let text = "name = \"t\"\nnodes = 10\n[node.aggregation]\nrule = \"weighted_trimmed_mean\"\ntrim_fraction = 0.6\n";
        let error = Scenario::parse(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("trim_fraction"), "{error}");
    }

    fn rule_of(keys: &str) -> Rule {
        match aggregation(keys).to_core(10) {
            CoreAggregation::Rule(rule) => rule,
            other => panic!("not a plain rule: {other:?}"),
        }
    }

    fn error_of(keys: &str) -> String {
        let text = format!("name = \"t\"\nnodes = 10\n[node.aggregation]\n{keys}\n");
        Scenario::parse(Path::new("t.toml"), &text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn robust_rules_are_scenario_keys() {
        assert_eq!(
            rule_of("rule = \"bulyan\"\nkrum_f = 2\nkrum_neighbours = \"byzfl\""),
            Rule::Bulyan(BulyanConfig {
                f: Faults::Count(2),
                neighbours: KrumNeighbours::ByzFl,
            })
        );
        assert_eq!(
            rule_of("rule = \"geometric_median\"\ngm_iterations = 3\ngm_smoothing = 0.5"),
            Rule::GeometricMedian(GeometricMedianConfig {
                iterations: 3,
                smoothing: q::ratio(1, 2),
            })
        );
        assert_eq!(
            rule_of(
                "rule = \"centered_clipping\"\ncc_radius = 2\ncc_iterations = 1\ncc_center = \"median\""
            ),
            Rule::CenteredClipping(CenteredClippingConfig {
                radius: q::from_int(2),
                iterations: 1,
                center: Center::Median,
            })
        );
        assert_eq!(
            rule_of("rule = \"meamed\"\nf_fraction = 0.25"),
            Rule::Meamed(MeamedConfig {
                f: Faults::FractionBp(2_500)
            })
        );
        assert_eq!(
            rule_of("rule = \"monna\""),
            Rule::Monna(MonnaConfig {
                f: Faults::Count(1)
            })
        );
        // The defaults are node-core's.
        assert_eq!(
            rule_of("rule = \"geometric_median\""),
            Rule::GeometricMedian(GeometricMedianConfig::default())
        );
        assert_eq!(
            rule_of("rule = \"centered_clipping\""),
            Rule::CenteredClipping(CenteredClippingConfig::default())
        );
        assert_eq!(
            rule_of("rule = \"krum\""),
            Rule::Krum(KrumConfig::default())
        );
    }

    #[test]
    fn pre_aggregators_build_a_pipeline_in_order() {
        let config = aggregation(
            "rule = \"trimmed_mean\"\npre = [\"clipping\", \"bucketing\", \"nnm\"]\nbucket_size = 3\nclip_norm = 0.5\nf_fraction = 0.1",
        );
        let CoreAggregation::Pipeline(pipeline) = config.to_core(10) else {
            panic!("not a pipeline");
        };
        assert_eq!(
            pipeline.pre(),
            [
                PreAggregator::Clipping {
                    norm: q::ratio(1, 2)
                },
                PreAggregator::Bucketing { size: 3 },
                PreAggregator::NearestNeighbourMixing(Faults::FractionBp(1_000)),
            ]
        );
        assert_eq!(pipeline.rule(), Rule::TrimmedMean(TrimConfig::default()));
        // No pre-aggregator: the plain rule, as before.
        assert!(matches!(
            aggregation("").to_core(10),
            CoreAggregation::Rule(_)
        ));
    }

    #[test]
    fn bad_robust_keys_name_the_key_and_the_expected_values() {
        let cases = [
            ("pre = [\"nnm\", \"nnm\", \"nnm\", \"nnm\"]", "at most 3"),
            ("pre = [\"median\"]", "bucketing"),
            ("rule = \"adaptive\"\npre = [\"nnm\"]", "pre"),
            ("krum_f = 2\nf_fraction = 0.2", "f_fraction"),
            ("f_fraction = 0.6", "f_fraction"),
            ("gm_iterations = 0", "gm_iterations"),
            ("gm_smoothing = 0", "gm_smoothing"),
            ("cc_radius = -1", "cc_radius"),
            ("cc_iterations = 65", "cc_iterations"),
            ("cc_center = \"mean\"", "own"),
            ("krum_neighbours = \"blades\"", "byzfl"),
            ("bucket_size = 0", "bucket_size"),
            ("clip_norm = 0", "clip_norm"),
            ("rule = \"bulyans\"", "geometric_median"),
        ];
        for (keys, expected) in cases {
            let error = error_of(keys);
            assert!(error.contains(expected), "{keys}: {error}");
        }
    }
}
