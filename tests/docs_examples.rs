//! Every ```console example in README.md and docs/*.md runs here, its output checked (issue 18).
//!
//! trycmd runs each Markdown file as one sequence of commands. A file with a `NAME.out/` folder
//! beside it (here holding only `.keep`) runs in a fresh temporary copy of `NAME.in/` (or an
//! empty folder), so the examples can write their outputs without touching the checkout;
//! each file's first example makes its data with a small `neutrostruct synth`.

#[test]
fn docs_examples() {
    trycmd::TestCases::new()
        .register_bin("neutrostruct", trycmd::cargo::cargo_bin!("neutrostruct"))
        .env("NO_COLOR", "1")
        .case("README.md")
        .case("docs/*.md");
}

/// The config the validation page's examples run with is the one the page shows: otherwise
/// the example `validate --config neutrostruct.toml` would test a file nobody reads.
#[test]
fn validation_fixture_config_is_the_documented_block() {
    let page = include_str!("../docs/validation.md");
    let block = page
        .split("## Configuration (`--config neutrostruct.toml`)")
        .nth(1)
        .and_then(|s| s.split("```toml\n").nth(1))
        .and_then(|b| b.split("\n```").next())
        .expect("docs/validation.md has the Configuration section with a ```toml block");
    let fixture = include_str!("../docs/validation.in/neutrostruct.toml");
    assert_eq!(fixture.trim_end(), block.trim_end());
}
