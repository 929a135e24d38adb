//! Cursor decoding (`db::pagination::decode`): never a panic, and every cursor it accepts
//! encodes back to one that decodes to the same page start.

#![no_main]

use clerk_rocket::db::pagination::{decode, encode, PageStart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|cursor: &str| {
    if let Ok(start) = decode(cursor) {
        assert_ne!(start, PageStart::First);
        let again = encode(start).expect("a page start other than the first has a cursor");
        assert_eq!(decode(&again), Ok(start));
    }
});
