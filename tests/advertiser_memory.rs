//! Memory of the Advertiser's scheduler per tracked key, measured with a counting allocator (its
//! own test binary, so no other test shares the counter): heap bytes held per key beyond the
//! 16-byte key itself, announced and scheduled for refresh, at several table sizes. Prints the
//! numbers (`cargo test --test advertiser_memory -- --nocapture`) and keeps them under 64.
#![cfg(feature = "p2p")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use casweb::key::KEY_LEN;
use casweb::p2p::advertiser::{ScheduleConfig, Scheduler};
use casweb::Key;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes per key beyond the key of a scheduler tracking `count` announced keys.
fn overhead_per_key(count: u32) -> f64 {
    let keys: Vec<Key> = (0..count)
        .map(|n| Key::for_bytes(&n.to_le_bytes()))
        .collect();
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut scheduler = Scheduler::new(ScheduleConfig {
        max_concurrent: usize::MAX,
        ..ScheduleConfig::default()
    });
    let now = 1_700_000_000_000;
    for key in &keys {
        scheduler.enqueue(*key);
    }
    while let Some(key) = scheduler.next(now) {
        scheduler.succeeded(key, now);
    }
    scheduler.take_dirty();
    let held = LIVE_BYTES.load(Ordering::Relaxed) - before;
    assert_eq!(scheduler.advertised_count(), count as usize);
    drop(scheduler);
    held as f64 / f64::from(count) - KEY_LEN as f64
}

#[test]
fn at_most_64_bytes_per_tracked_key_beyond_the_key() {
    let mut rows = Vec::new();
    for count in [1_000, 10_000, 100_000, 1_000_000, 1_500_000] {
        let overhead = overhead_per_key(count);
        println!("{count:>9} keys: {overhead:.1} bytes per key beyond the key");
        assert!(
            overhead <= 64.0,
            "{count} keys: {overhead:.1} bytes per key"
        );
        rows.push(format!(r#"{{"keys":{count},"bytesPerKey":{overhead:.1}}}"#));
    }
    // One line for scripts/bench.sh (`make bench`), which reports it.
    println!("ADV_MEMORY [{}]", rows.join(","));
}
