//! The test kit is the library's own (`clerk_rocket::testing`, cargo feature `testing`), so that
//! what the README offers to people who extend the app is what these tests run on.

pub use clerk_rocket::testing::*;
