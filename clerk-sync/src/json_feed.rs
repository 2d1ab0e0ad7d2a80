//! json_feed (work in progress).
