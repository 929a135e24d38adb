//! Integration tests: one binary (one link) with a module per surface.

mod common;

mod cli;
mod keys;
mod local_mode;
mod sync;
mod users;
mod verification;
mod webhooks;
