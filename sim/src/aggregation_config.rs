//! `[node.aggregation]` and `[node.reputation]`: how a node combines its
//! peers' models and scores them, as scenario keys.
//!
//! Defaults are node-core's: the paper's trimmed mean (β = 0.2) over peers
//! that are not banned, and the paper's EMA reputation (γ = 0.05, start 0.5,
//! ban below 0.2, agreement = RMS distance to the aggregate ≤ 0.3).

use node_core::aggregate::{
    AdaptiveConfig, Faults, KrumConfig, KrumNeighbours, Maturity, Rule, TrimConfig, WeightedConfig,
    WeightedTrimConfig,
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
    /// Coordinate-wise trimmed mean (default).
    #[default]
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
    /// kept values (the paper's weighted trimmed mean).
    WeightedTrimmedMean,
    /// Trimmed mean while young, reputation-weighted once mature.
    Adaptive,
}

/// The influence cap of the reputation-weighted rules.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CapKind {
    /// share ≤ 0.8·rep³ (the README's rule as a share cap; default).
    #[default]
    Paper,
    /// share ≤ min(rep³, 0.8) (the seed code's).
    SeedMin,
    /// weight = 0.8·rep^e, shares uncapped (the paper's text).
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
}

impl Default for AggregationConfig {
    fn default() -> AggregationConfig {
        AggregationConfig {
            rule: RuleKind::TrimmedMean,
            trim_fraction: 0.2,
            krum_f: 1,
            multi_krum_m: 3,
            adaptive_exponent: true,
            exponent: 3.0,
            cap: CapKind::Paper,
            min_reputation: 0.0,
            maturity: MaturityKind::Convergence,
            converge_epsilon: 0.01,
            mature_rounds: 30,
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
                f: Faults::Count(self.krum_f),
                m: 1,
                neighbours: KrumNeighbours::Paper,
            }),
            RuleKind::MultiKrum => Rule::Krum(KrumConfig {
                f: Faults::Count(self.krum_f),
                m: self.multi_krum_m,
                neighbours: KrumNeighbours::Paper,
            }),
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
        CoreAggregation::Rule(rule)
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
}
