//! Integration tests: one binary (one link) with a module per surface.

mod common;

mod admin;
mod admin_actions;
mod admin_authority;
mod admin_stats;
mod adversarial;
mod authority;
mod browser;
mod browser_orgs;
mod check;
mod cli;
mod differential;
mod faults;
mod hostile_tokens;
mod hot_path;
mod instances;
mod keys;
mod local_machines;
mod local_mode;
mod machine_users;
mod machines;
mod observability;
mod openapi;
mod org_pages;
mod org_records;
mod orgs;
mod pages;
mod readme;
mod readme_example;
mod sync;
mod users;
mod verification;
mod webhooks;
