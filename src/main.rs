//! The `clerk-rocket` binary: loads `.env`, parses the command line, and hands it to
//! [`clerk_rocket::cli`].

use std::process::ExitCode;

use clap::Parser as _;

/// glibc's malloc locked its arenas on most requests under load: a request's memory is often
/// freed by the other worker (`perf`, bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[rocket::main]
async fn main() -> ExitCode {
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("error: .env: {e}");
            return ExitCode::from(2);
        }
    }
    clerk_rocket::cli::run(clerk_rocket::cli::Cli::parse()).await
}
