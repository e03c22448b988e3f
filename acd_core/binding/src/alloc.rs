//! A counting global allocator: `heap_bytes()` reports live bytes, so the memory cost of a
//! waiting call can be measured exactly instead of guessed from the process size.
//!
//! Underneath is mimalloc rather than the C library's malloc: the router allocates and frees
//! small objects (call ids, work items) on every command, and glibc's bins cost a noticeable
//! share of a command (and interleave the router's objects with Python's) where mimalloc's
//! per-size pages are cheaper and keep them together.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::{c_int, c_long};

use mimalloc::MiMalloc;

static BACKING: MiMalloc = MiMalloc;
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { BACKING.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { BACKING.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { BACKING.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { BACKING.realloc(ptr, layout, new_size) }
    }
}

pub fn allocated() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// `mi_option_purge_delay` in the header of the mimalloc that libmimalloc-sys 0.1.49 builds
/// (v3; that crate's Rust declarations do not name it, hence the pin in Cargo.toml).
const MI_OPTION_PURGE_DELAY: c_int = 15;
/// How long freed memory stays mapped for reuse before it goes back to the OS.
const PURGE_DELAY_MS: c_long = 10_000;

// From the mimalloc C library that libmimalloc-sys compiles and links in.
extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
}

/// Sets the allocator's purge delay (unless the environment sets it: MIMALLOC_PURGE_DELAY).
///
/// Why: mimalloc returns memory unused for 1 s to the OS, and the next allocations there fault
/// the pages in again, zeroed by the kernel. A router frees and reallocates memory on that time
/// scale (a burst of calls ending, a router rebuilt on restore or reconfiguration), and the
/// faults showed as 5-8% of a command's time in `bench/core_vs_reference.py`. Ten seconds, as
/// jemalloc's default decay, keeps that memory for reuse and still gives back what stays
/// unused.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: a plain option store; mimalloc reads options atomically.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}
