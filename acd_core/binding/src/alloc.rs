//! A counting global allocator: `heap_bytes()` reports live bytes, so the memory cost of a
//! waiting call can be measured exactly instead of guessed from the process size.
//!
//! Underneath is mimalloc rather than the C library's malloc: the router allocates and frees
//! small objects (call ids, work items) on every command, and glibc's bins cost a noticeable
//! share of a command (and interleave the router's objects with Python's) where mimalloc's
//! per-size pages are cheaper and keep them together.

use std::alloc::{GlobalAlloc, Layout};

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
