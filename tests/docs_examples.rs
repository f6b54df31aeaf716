//! Every ```console example in README.md and docs/*.md runs here, output checked (issue 18).
#[test]
fn docs_examples() {
    trycmd::TestCases::new()
        .register_bin("neutrostruct", trycmd::cargo::cargo_bin!("neutrostruct"))
        .case("README.md")
        .case("docs/*.md");
}
