//! The `keycheck` command.
fn main() {}
