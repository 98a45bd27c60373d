//! Sorted sets (placeholder while the list lands).
