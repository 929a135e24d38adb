//! The README shows code that runs.

#[test]
fn the_test_kit_example_is_the_one_that_runs() {
    let readme = include_str!("../../README.md");
    let source = include_str!("readme_example.rs");
    let code: String = source
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .flat_map(|l| [l, "\n"])
        .collect();
    let marker = "<!-- test-kit-example: tests/integration/readme_example.rs -->\n```rust\n";
    let start = readme.find(marker).expect("the README marks the example") + marker.len();
    let end = start + readme[start..].find("```").expect("the example block ends");
    assert_eq!(
        &readme[start..end],
        code,
        "README.md's example differs from tests/integration/readme_example.rs"
    );
}
