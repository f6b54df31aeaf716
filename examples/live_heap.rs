//! The live heap of the model `validate` reads from a COCO file: a counting allocator around
//! the system's, the read `validate` does (`coco::read_path` with its options), then the
//! bytes still allocated, the peak during the read, and how many live blocks of each size up
//! to 256 bytes there are (which model structures dominate, and in which allocator class).
//! benches/RESULTS.md quotes its figures.
//!
//! usage: live_heap FILE.json

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Live blocks by size, 8 bytes a bucket, up to 256 bytes.
static BY_SIZE: [AtomicUsize; 33] = [const { AtomicUsize::new(0) }; 33];

// SAFETY: every call is passed on to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        if let Some(b) = BY_SIZE.get(layout.size() / 8) {
            b.fetch_add(1, Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is the one `System.alloc` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        if let Some(b) = BY_SIZE.get(layout.size() / 8) {
            b.fetch_sub(1, Relaxed);
        }
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let Some(file) = std::env::args_os().nth(1) else {
        eprintln!("usage: live_heap FILE.json");
        std::process::exit(2);
    };
    // The options `validate` reads with.
    let opts = neutrostruct::coco::ReadOptions {
        allow_non_finite: true,
        drop_segmentation_text: true,
        fast_cvat_ellipses: true,
        ..Default::default()
    };
    let (ds, _) = match neutrostruct::coco::read_path(std::path::Path::new(&file), &opts) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("live_heap: {e}");
            std::process::exit(2);
        }
    };
    let mib = |b: usize| b as f64 / f64::from(1 << 20);
    println!(
        "{} annotations ({} bytes each, room for {}): live heap {:.1} MiB, peak {:.1} MiB",
        ds.annotations.len(),
        std::mem::size_of::<neutrostruct::model::Annotation>(),
        ds.annotations.capacity(),
        mib(CURRENT.load(Relaxed)),
        mib(PEAK.load(Relaxed))
    );
    for (i, n) in BY_SIZE.iter().enumerate() {
        let n = n.load(Relaxed);
        if n >= 1000 {
            println!("  {:>3}..{:>3} bytes: {n} live blocks", 8 * i, 8 * i + 7);
        }
    }
}
