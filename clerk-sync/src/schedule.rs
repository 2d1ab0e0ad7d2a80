//! schedule (work in progress).
