//! Byzantine attackers in the gossip swarm: the `[adversary]` scenario
//! section, which nodes attack ([`Plan`]), how an attacker rewrites what
//! it sends ([`attacker::Attacker`]) and how the run measures the attack
//! ([`detection`]). The threat model, every attack's formula and its
//! citation are in `docs/adversary.md`.
//!
//! ## The attacker
//!
//! An attacker is an honest node-core node (built exactly like the honest
//! ones) wrapped in [`attacker::Attacker`], a [`node_core::runtime::Runtime`]
//! that forwards every input to the node and rewrites its **outgoing**
//! model updates: it parses the node's frame with `node_core::wire`,
//! replaces the model words by the attack's, and re-emits a frame with a
//! correct CRC, as a full update or as a delta against the attacker's own
//! last keyframe (its own `gossip::delta::PublicModel`, so receivers
//! decode exactly the words the attacker meant). The frames are
//! protocol-valid: no receiver can reject them as malformed.
//!
//! ## Selection
//!
//! `[[adversary.groups]]` are resolved in the order written; each group
//! picks its nodes among those no earlier group took, by exactly one of
//! `fraction` (or, with no selection key, `adversary.fraction`): the
//! `round(fraction · nodes)` first ids of a seeded shuffle (Fisher–Yates
//! on the ChaCha stream `stream(seed, 0xFFFF_FF00 + group, Adversary)`),
//! `nodes` (a list of ids), `node_range` (`[first, end)`) or `region`
//! (`[x0, y0, x1, y1]` of the topology's unit square, the positions
//! `radio::topology::Topology::position` gives). The same scenario and seed
//! select the same attackers on every machine.
//!
//! ## Timing
//!
//! An attacker behaves honestly before round `start_round` (the node's
//! round counter: round `k` begins at the boundary `k · round_period +
//! round_offset`). On-off attackers then alternate `period_rounds` honest
//! rounds and `period_rounds` attacking rounds.

pub mod attacker;
pub mod detection;
pub mod pool;

use std::fmt;

use node_core::rng::{Purpose, below, stream};
use node_core::runtime::NodeId;
use serde::{Deserialize, Serialize};

use crate::radio::topology::Topology;
use crate::scenario::Scenario;
use crate::validate::{Validate, Validator};

/// Most groups in `[adversary]`.
pub const GROUPS_MAX: usize = 64;

/// Most extra identities of one sybil attacker.
pub const IDENTITIES_MAX: u32 = 16;

/// A Byzantine behaviour (`attack` of a group). Formulas in
/// `docs/adversary.md`; `m` is the group's `magnitude`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// `w + m` on every word (default m = 1).
    Bias,
    /// `−m · w` (default m = 1).
    SignFlip,
    /// `w + N(0, m²)` per word from the attacker's ChaCha stream (default 1).
    Noise,
    /// The largest word the wire carries, `i32::MAX` raw (32 768 − 2⁻¹⁶).
    Inf,
    /// A copy of the last update of the first peer the attacker heard.
    Mimic,
    /// Trains on `(−1)^t · m · x_t` instead of its samples `x_t` (data
    /// poisoning); the protocol is honest.
    LabelFlip,
    /// "A little is enough": `μ − m · σ` per word over what it heard
    /// (default z = m = 1).
    Alie,
    /// Inner-product manipulation: `−m · μ` (default ε = m = 0.5).
    Ipm,
    /// Honest and bias `m` in alternating blocks of `period_rounds`.
    OnOff,
    /// Honest updates plus false reputation reports (score 0) about every
    /// peer it heard.
    Slander,
    /// Class-C cartel: one shared bias `+m · σ` per word (default 0.5),
    /// inside the honest spread the colluders observe together.
    Cartel,
    /// One attacker, `identities` extra sender ids (≥ `nodes`), each
    /// sending the bias-`m` model.
    Sybil,
}

impl AttackKind {
    /// Every attack, in declaration order.
    pub const ALL: [AttackKind; 12] = [
        AttackKind::Bias,
        AttackKind::SignFlip,
        AttackKind::Noise,
        AttackKind::Inf,
        AttackKind::Mimic,
        AttackKind::LabelFlip,
        AttackKind::Alie,
        AttackKind::Ipm,
        AttackKind::OnOff,
        AttackKind::Slander,
        AttackKind::Cartel,
        AttackKind::Sybil,
    ];

    /// Its name in scenarios and outputs.
    pub const fn name(self) -> &'static str {
        match self {
            AttackKind::Bias => "bias",
            AttackKind::SignFlip => "sign_flip",
            AttackKind::Noise => "noise",
            AttackKind::Inf => "inf",
            AttackKind::Mimic => "mimic",
            AttackKind::LabelFlip => "label_flip",
            AttackKind::Alie => "alie",
            AttackKind::Ipm => "ipm",
            AttackKind::OnOff => "on_off",
            AttackKind::Slander => "slander",
            AttackKind::Cartel => "cartel",
            AttackKind::Sybil => "sybil",
        }
    }

    /// The `magnitude` used when a group gives none.
    pub const fn default_magnitude(self) -> f64 {
        match self {
            AttackKind::Ipm | AttackKind::Cartel => 0.5,
            _ => 1.0,
        }
    }

    /// Whether the attacker needs the updates it hears (statistics, a
    /// target to copy, peers to slander).
    pub const fn observes(self) -> bool {
        matches!(
            self,
            AttackKind::Mimic
                | AttackKind::Alie
                | AttackKind::Ipm
                | AttackKind::Slander
                | AttackKind::Cartel
        )
    }
}

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[adversary]`: Byzantine nodes. Absent: every node is honest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdversaryConfig {
    /// Fraction of the nodes a group without its own selection takes.
    pub fraction: f64,
    /// An attacker is *detected* when a strict majority of the honest
    /// nodes tracking it score it below this reputation.
    pub detect_reputation: f64,
    /// The groups of attackers, resolved in order.
    pub groups: Vec<GroupConfig>,
}

impl Default for AdversaryConfig {
    fn default() -> AdversaryConfig {
        AdversaryConfig {
            fraction: 0.1,
            detect_reputation: 0.35,
            groups: Vec::new(),
        }
    }
}

/// One `[[adversary.groups]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The behaviour.
    pub attack: AttackKind,
    /// Fraction of all nodes in this group (seeded choice).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Explicit node ids.
    #[serde(default)]
    pub nodes: Option<Vec<u32>>,
    /// Ids `[first, end)`.
    #[serde(default)]
    pub node_range: Option<[u32; 2]>,
    /// Nodes whose topology position lies in `[x0, y0, x1, y1]`.
    #[serde(default)]
    pub region: Option<[f64; 4]>,
    /// First round in which the group attacks (honest before).
    #[serde(default)]
    pub start_round: u32,
    /// Attack strength (`m` in the attack's formula); default per attack.
    #[serde(default)]
    pub magnitude: Option<f64>,
    /// On-off: rounds per honest and per attacking block.
    #[serde(default = "default_period_rounds")]
    pub period_rounds: u32,
    /// Sybil: extra identities per attacker.
    #[serde(default = "default_identities")]
    pub identities: u32,
}

fn default_period_rounds() -> u32 {
    10
}

fn default_identities() -> u32 {
    4
}

impl Validate for AdversaryConfig {
    fn validate(&self, v: &mut Validator) {
        v.require(
            (0.0..=1.0).contains(&self.fraction),
            "fraction",
            "a fraction in [0, 1]",
            self.fraction,
        );
        v.require(
            (0.0..=1.0).contains(&self.detect_reputation),
            "detect_reputation",
            "a reputation in [0, 1]",
            self.detect_reputation,
        );
        v.require(
            self.groups.len() <= GROUPS_MAX,
            "groups",
            format_args!("at most {GROUPS_MAX} groups"),
            self.groups.len(),
        );
        for (i, group) in self.groups.iter().enumerate() {
            v.section(&format!("groups[{i}]"), |v| group.validate(v));
        }
    }
}

impl Validate for GroupConfig {
    fn validate(&self, v: &mut Validator) {
        let given = [
            self.fraction.is_some(),
            self.nodes.is_some(),
            self.node_range.is_some(),
            self.region.is_some(),
        ];
        v.require(
            given.iter().filter(|g| **g).count() <= 1,
            "fraction",
            "at most one of `fraction`, `nodes`, `node_range`, `region`",
            "several",
        );
        if let Some(f) = self.fraction {
            v.require(
                (0.0..=1.0).contains(&f),
                "fraction",
                "a fraction in [0, 1]",
                f,
            );
        }
        if let Some(range) = self.node_range {
            v.node_range(range);
        }
        if let Some([x0, y0, x1, y1]) = self.region {
            let ok = [x0, y0, x1, y1].iter().all(|c| (0.0..=1.0).contains(c)) && x0 < x1 && y0 < y1;
            v.require(
                ok,
                "region",
                "[x0, y0, x1, y1] in [0, 1] with x0 < x1 and y0 < y1",
                format_args!("{:?}", [x0, y0, x1, y1]),
            );
        }
        if let Some(m) = self.magnitude {
            v.require(
                m.is_finite() && (0.0..=32_000.0).contains(&m),
                "magnitude",
                "a value in [0, 32000]",
                m,
            );
        }
        v.range("period_rounds", self.period_rounds, 1, 1_000_000);
        v.range("identities", self.identities, 1, IDENTITIES_MAX);
    }
}

impl AdversaryConfig {
    /// Checks against the rest of `scenario`: node ids below `nodes`.
    pub fn validate_against(&self, scenario: &Scenario, v: &mut Validator) {
        for (i, group) in self.groups.iter().enumerate() {
            let max_id = group
                .nodes
                .iter()
                .flatten()
                .copied()
                .chain(group.node_range.map(|r| r[1].saturating_sub(1)))
                .max();
            if let Some(max_id) = max_id {
                v.require(
                    max_id < scenario.nodes,
                    &format!("adversary.groups[{i}]"),
                    format_args!("node ids below `nodes` ({})", scenario.nodes),
                    max_id,
                );
            }
        }
    }
}

/// What one attacker does: its group's attack and parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Role {
    /// Index of its group in `[adversary] groups`.
    pub group: u16,
    /// The behaviour.
    pub attack: AttackKind,
    /// First attacking round.
    pub start_round: u32,
    /// `m` (the group's or the attack's default).
    pub magnitude: f64,
    /// On-off block length, rounds.
    pub period_rounds: u32,
    /// Sybil identities (0 for other attacks).
    pub identities: u32,
    /// First fake id of a sybil (`nodes + Σ identities of the sybils
    /// before it in id order`).
    pub sybil_base: NodeId,
}

/// Which node attacks how: one optional [`Role`] per node id.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    roles: Vec<Option<Role>>,
    detect_reputation: f64,
}

impl Plan {
    /// The plan of `scenario` with master `seed` (no attackers without an
    /// `[adversary]` section). Errors name the group.
    pub fn new(scenario: &Scenario, seed: u64) -> Result<Plan, String> {
        let n = scenario.nodes;
        let mut roles: Vec<Option<Role>> = vec![None; n as usize];
        let Some(config) = &scenario.adversary else {
            return Ok(Plan {
                roles,
                detect_reputation: 0.0,
            });
        };
        let mut topology = None;
        for (g, group) in config.groups.iter().enumerate() {
            let chosen = select(scenario, seed, config, g, group, &roles, &mut topology)?;
            let role = Role {
                group: g as u16,
                attack: group.attack,
                start_round: group.start_round,
                magnitude: group.magnitude.unwrap_or(group.attack.default_magnitude()),
                period_rounds: group.period_rounds,
                identities: if group.attack == AttackKind::Sybil {
                    group.identities
                } else {
                    0
                },
                sybil_base: 0,
            };
            for id in chosen {
                let slot = &mut roles[id as usize];
                if slot.is_some() {
                    return Err(format!(
                        "adversary.groups[{g}]: node {id} is already in an earlier group"
                    ));
                }
                *slot = Some(role);
            }
        }
        let mut next_fake = n;
        for role in roles.iter_mut().flatten() {
            role.sybil_base = next_fake;
            next_fake = next_fake
                .checked_add(role.identities)
                .ok_or("adversary: sybil ids overflow u32")?;
        }
        Ok(Plan {
            roles,
            detect_reputation: config.detect_reputation,
        })
    }

    /// The role of node `id`, `None` for an honest node.
    pub fn role(&self, id: NodeId) -> Option<&Role> {
        self.roles.get(id as usize).and_then(Option::as_ref)
    }

    /// The roles by node id.
    pub fn roles(&self) -> &[Option<Role>] {
        &self.roles
    }

    /// Number of attackers.
    pub fn attackers(&self) -> usize {
        self.roles.iter().flatten().count()
    }

    /// The detection threshold (`adversary.detect_reputation`).
    pub fn detect_reputation(&self) -> f64 {
        self.detect_reputation
    }
}

/// The ids group `g` takes, among nodes without a role yet, in increasing
/// order.
fn select(
    scenario: &Scenario,
    seed: u64,
    config: &AdversaryConfig,
    g: usize,
    group: &GroupConfig,
    roles: &[Option<Role>],
    topology: &mut Option<Topology>,
) -> Result<Vec<NodeId>, String> {
    let n = scenario.nodes;
    if let Some(ids) = &group.nodes {
        let mut ids = ids.clone();
        ids.sort_unstable();
        ids.dedup();
        return Ok(ids);
    }
    if let Some([first, end]) = group.node_range {
        return Ok((first..end.min(n)).collect());
    }
    if let Some([x0, y0, x1, y1]) = group.region {
        if topology.is_none() {
            let spec = scenario.radio.topology_spec();
            *topology =
                Some(Topology::build(spec, n, seed).map_err(|e| format!("adversary: {e}"))?);
        }
        let topology = topology.as_ref().expect("built above");
        return Ok((0..n)
            .filter(|&id| {
                let [x, y] = topology.position(id);
                (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
            })
            .collect());
    }
    let fraction = group.fraction.unwrap_or(config.fraction);
    let mut free: Vec<NodeId> = (0..n).filter(|&id| roles[id as usize].is_none()).collect();
    let wanted = ((fraction * f64::from(n)).round() as usize).min(free.len());
    let mut rng = stream(seed, 0xFFFF_FF00 + g as u32, Purpose::Adversary);
    for i in 0..wanted {
        let remaining = (free.len() - i) as u32;
        let j = i + below(&mut rng, remaining) as usize;
        free.swap(i, j);
    }
    let mut chosen = free[..wanted].to_vec();
    chosen.sort_unstable();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(adversary: &str) -> Scenario {
        let text = format!("name = \"x\"\nnodes = 100\n{adversary}");
        Scenario::parse(std::path::Path::new("x.toml"), &text).unwrap()
    }

    #[test]
    fn fraction_selection_is_seeded_and_disjoint() {
        let s = scenario(
            "[adversary]\nfraction = 0.2\n[[adversary.groups]]\nattack = \"bias\"\n\
             [[adversary.groups]]\nattack = \"sybil\"\nfraction = 0.1\nidentities = 2\n",
        );
        let a = Plan::new(&s, 1).unwrap();
        assert_eq!(a.attackers(), 30);
        let again = Plan::new(&s, 1).unwrap();
        assert_eq!(a.roles(), again.roles());
        let other = Plan::new(&s, 2).unwrap();
        assert_ne!(a.roles(), other.roles());
        let sybils: Vec<&Role> = a
            .roles()
            .iter()
            .flatten()
            .filter(|r| r.attack == AttackKind::Sybil)
            .collect();
        assert_eq!(sybils.len(), 10);
        assert_eq!(sybils[0].sybil_base, 100);
        assert_eq!(sybils[1].sybil_base, 102);
    }

    #[test]
    fn explicit_ranges_and_overlaps() {
        let s = scenario(
            "[[adversary.groups]]\nattack = \"inf\"\nnode_range = [10, 20]\n\
             [[adversary.groups]]\nattack = \"bias\"\nnodes = [19]\n",
        );
        let e = Plan::new(&s, 1).unwrap_err();
        assert!(e.contains("groups[1]") && e.contains("node 19"), "{e}");
        let s = scenario("[[adversary.groups]]\nattack = \"inf\"\nregion = [0.0, 0.0, 0.5, 0.5]\n");
        // Full mesh: a 10 × 10 grid of positions, 5 × 5 in the corner.
        assert_eq!(Plan::new(&s, 1).unwrap().attackers(), 25);
    }
}
