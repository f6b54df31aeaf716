//! Limits every reader applies, whatever the format: beyond them an input is refused with an
//! error, never allocated. They live with the model, below the format modules, so that no
//! reader borrows another's (docs/limits-and-security.md lists them all).

/// Largest image side accepted (a declared size above it is an error, not an allocation).
pub const MAX_SIDE: u64 = 100_000;
/// Most points (or mask runs) accepted in one shape: polygon rings, polylines, CVAT masks,
/// YOLO rows.
pub const MAX_POINTS: usize = 1_000_000;
