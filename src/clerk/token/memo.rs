//! Room, beside a verified token's claims, for what the app worked out from them (its user row
//! and deny state), so that the next request with the same token finds it without another
//! look-up: the claims are kept by the verdict cache for as long as the token may be used.
//!
//! Type-erased, since the protocol layer cannot name the app's types. Whoever stores a value
//! decides when it is still good; the memo only holds the latest one.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

#[derive(Default)]
pub struct Memo(RwLock<Option<Arc<dyn Any + Send + Sync>>>);

impl Memo {
    /// The value stored last, if it is a `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let held = self.0.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(held.as_ref()?).downcast().ok()
    }

    /// Replaces what is held.
    pub fn set<T: Any + Send + Sync>(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }
}

/// Not part of the claims: a copy starts empty.
impl Clone for Memo {
    fn clone(&self) -> Self {
        Memo::default()
    }
}

/// Not part of the claims: two tokens' claims are equal whatever their memos hold.
impl PartialEq for Memo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Memo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_latest_value_of_its_type_only() {
        let memo = Memo::default();
        assert!(memo.get::<u32>().is_none());
        memo.set(Arc::new(7u32));
        assert_eq!(memo.get::<u32>().as_deref(), Some(&7));
        assert!(
            memo.get::<String>().is_none(),
            "another type is not handed out"
        );
        memo.set(Arc::new(8u32));
        assert_eq!(memo.get::<u32>().as_deref(), Some(&8));
        assert!(memo.clone().get::<u32>().is_none(), "a copy starts empty");
    }
}
