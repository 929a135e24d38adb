//! The test kit is the library's own (`clerk_rocket::testing`, cargo feature `testing`), so that
//! what the README offers to people who extend the app is what these tests run on. Only what
//! needs this test binary stays here: running the `clerk-rocket` binary built beside it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub use clerk_rocket::testing::*;

/// Runs the binary in `dir` with only `env` set (no .env, no inherited `CLERK_*`).
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().expect("the binary runs")
}

/// [`run`] with `input` on its standard input.
pub fn run_with_stdin(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut child = command(dir, args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Dropped after writing, so that the binary sees the end of its input.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clerk-rocket"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied());
    command
}
