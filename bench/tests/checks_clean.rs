//! The benchmark must time the normal path of `vigil check`, not an early
//! exit on a diagnostic: generated topologies must check clean.

use vigil::pipeline::analyse_texts;
use vigil_bench::{Shape, generate};

#[test]
fn generated_topologies_check_clean() {
    for (hosts, routers) in [(2, 1), (10, 25), (7, 201), (120, 450)] {
        let text = generate(Shape { hosts, routers }).unwrap();
        let analysis = analyse_texts(&[("generated.toml", text.as_bytes())]);
        let found: Vec<String> = analysis
            .diagnostics
            .iter()
            .map(|d| format!("{}({}): {}", d.code, d.name, d.message))
            .collect();
        assert!(
            found.is_empty(),
            "{hosts} hosts / {routers} routers:\n{found:#?}"
        );
    }
}
