//! Bad input never panics the scenario loader: arbitrary bytes and mutated
//! valid scenarios give `Ok` or a located error, nothing else.

use std::path::Path;

use proptest::prelude::*;
use sim::scenario::{Scenario, ScenarioError};

const VALID: &str = include_str!("../../scenarios/examples/smoothsine-1000.toml");

fn check(text: &str) {
    match Scenario::parse(Path::new("fuzz.toml"), text) {
        Ok(_) => {}
        Err(
            e @ (ScenarioError::Parse { .. }
            | ScenarioError::Invalid { .. }
            | ScenarioError::Empty { .. }),
        ) => {
            let message = e.to_string();
            assert!(
                message.starts_with("fuzz.toml:"),
                "unlocated error: {message}"
            );
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn mutated_scenarios_never_panic(at in 0usize..VALID.len(), len in 0usize..12, insert in "[ -~\\n]{0,8}") {
        let mut bytes = VALID.as_bytes().to_vec();
        let end = (at + len).min(bytes.len());
        bytes.splice(at..end, insert.bytes());
        if let Ok(text) = String::from_utf8(bytes) {
            check(&text);
        }
    }
}
