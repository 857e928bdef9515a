//! The allocator can move between threads (the master holds it behind its core's lock).

#[test]
fn allocator_is_send_and_sync() {
    fn check<T: Send + Sync + Clone + Default>() {}
    check::<keel_allocator::Allocator>();
}
