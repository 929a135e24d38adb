//! Integration tests: one binary (one link) with a module per surface.

mod common;

mod admin;
mod adversarial;
mod browser;
mod check;
mod cli;
mod keys;
mod local_mode;
mod observability;
mod openapi;
mod pages;
mod readme;
mod readme_example;
mod sync;
mod users;
mod verification;
mod webhooks;
