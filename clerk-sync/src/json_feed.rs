//! The JSON feed importer: separate product, category, customer and order feeds, each a JSON array or NDJSON
//! (one object per line), with `modified_at` for incremental syncs.
//!
//! Field names are those of the domain model (see `docs/data-formats.md`). Two more fields are understood on
//! every object: `modified_at` (a time; an incremental sync skips objects modified at or before its cursor) and
//! `deleted: true` (the record with this `id` was removed).

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use clerk_core::domain::{Category, Customer, Order, Product, RecordKind, Timestamp};
use serde_json::Value;

use crate::error::{ImportError, SourceError};
use crate::importer::{Importer, RecordSink};
use crate::record::{Location, Record, SyncCursor, SyncMode};
use crate::validate::RejectReason;

/// Where a feed's text comes from.
#[derive(Clone, Debug)]
pub enum FeedSource {
    /// A file.
    Path(PathBuf),
    /// Text in memory.
    Bytes(Arc<[u8]>),
}

impl From<PathBuf> for FeedSource {
    fn from(p: PathBuf) -> Self {
        FeedSource::Path(p)
    }
}

impl From<&str> for FeedSource {
    /// Text in memory (use [`FeedSource::Path`] for files).
    fn from(text: &str) -> Self {
        FeedSource::Bytes(Arc::from(text.as_bytes()))
    }
}

impl From<String> for FeedSource {
    /// Text in memory.
    fn from(text: String) -> Self {
        FeedSource::Bytes(Arc::from(text.into_bytes()))
    }
}

/// Reads JSON feeds, one per kind of record.
///
/// A feed whose first non-blank character is `[` is an array (read whole); otherwise it is NDJSON, read line by
/// line. Feeds are read catalog first (categories, products, customers, then orders).
#[derive(Clone, Debug)]
pub struct JsonFeedImporter {
    name: String,
    feeds: Vec<(RecordKind, FeedSource)>,
}

impl JsonFeedImporter {
    /// An importer without feeds.
    pub fn new(name: impl Into<String>) -> Self {
        JsonFeedImporter { name: name.into(), feeds: Vec::new() }
    }

    /// Adds the feed of `kind` (replacing an earlier one).
    pub fn feed(mut self, kind: RecordKind, source: impl Into<FeedSource>) -> Self {
        self.feeds.retain(|(k, _)| *k != kind);
        self.feeds.push((kind, source.into()));
        self.feeds.sort_by_key(|(k, _)| RecordKind::ALL.iter().position(|a| a == k));
        self
    }

    /// Adds the product feed.
    pub fn products(self, source: impl Into<FeedSource>) -> Self {
        self.feed(RecordKind::Product, source)
    }

    /// Adds the category feed.
    pub fn categories(self, source: impl Into<FeedSource>) -> Self {
        self.feed(RecordKind::Category, source)
    }

    /// Adds the customer feed.
    pub fn customers(self, source: impl Into<FeedSource>) -> Self {
        self.feed(RecordKind::Customer, source)
    }

    /// Adds the order feed.
    pub fn orders(self, source: impl Into<FeedSource>) -> Self {
        self.feed(RecordKind::Order, source)
    }
}

fn source_name(name: &str, kind: RecordKind, source: &FeedSource) -> Arc<str> {
    match source {
        FeedSource::Path(p) => Arc::from(p.display().to_string()),
        FeedSource::Bytes(_) => Arc::from(format!("{name}/{kind}s")),
    }
}

fn reason_of(e: &serde_json::Error) -> RejectReason {
    let msg = e.to_string();
    if msg.contains("not a time") || msg.contains("time out of range") {
        RejectReason::BadTimestamp
    } else {
        RejectReason::Malformed
    }
}

/// Why an item is not a record, with the field concerned.
type ItemError = (RejectReason, Option<String>, String);

/// Turns one JSON object into a record; `None` when an incremental sync skips it. `latest` collects the latest
/// modification time.
fn item_record(
    kind: RecordKind,
    value: Value,
    after: Option<Timestamp>,
    latest: &mut Option<Timestamp>,
) -> Result<Option<Record>, (ItemError, String)> {
    let Value::Object(mut map) = value else {
        return Err(((RejectReason::Malformed, None, format!("a {kind} must be a JSON object")), String::new()));
    };
    let id = match map.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let fail =
        |reason, field: Option<&str>, message: String| Err(((reason, field.map(str::to_owned), message), id.clone()));
    let modified = match map.remove("modified_at") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<Timestamp>(v) {
            Ok(t) => Some(t),
            Err(e) => return fail(RejectReason::BadTimestamp, Some("modified_at"), e.to_string()),
        },
    };
    let deleted = match map.remove("deleted") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return fail(RejectReason::Malformed, Some("deleted"), "deleted must be true or false".into()),
    };
    let order_time = if kind == RecordKind::Order && !deleted {
        match map.get("time") {
            None | Some(Value::Null) => {
                return fail(RejectReason::MissingField, Some("time"), "time is required".into())
            }
            Some(v) => match serde_json::from_value::<Timestamp>(v.clone()) {
                Ok(t) => Some(t),
                Err(e) => return fail(RejectReason::BadTimestamp, Some("time"), e.to_string()),
            },
        }
    } else {
        None
    };
    let changed = modified.or(order_time);
    if let Some(t) = changed {
        if latest.is_none_or_before(t) {
            *latest = Some(t);
        }
        if after.is_some_and(|a| t <= a) {
            return Ok(None);
        }
    }
    if deleted {
        return Ok(Some(Record::Delete { kind, id }));
    }
    if let Some(Value::Number(n)) = map.get("id") {
        let text = n.to_string();
        map.insert("id".into(), Value::String(text));
    }
    let value = Value::Object(map);
    let record = match kind {
        RecordKind::Product => serde_json::from_value::<Product>(value).map(Record::Product),
        RecordKind::Category => serde_json::from_value::<Category>(value).map(Record::Category),
        RecordKind::Customer => serde_json::from_value::<Customer>(value).map(Record::Customer),
        RecordKind::Order => serde_json::from_value::<Order>(value).map(Record::Order),
    };
    match record {
        Ok(r) => Ok(Some(r)),
        Err(e) => fail(reason_of(&e), None, e.to_string()),
    }
}

trait BeforeExt {
    fn is_none_or_before(&self, t: Timestamp) -> bool;
}

impl BeforeExt for Option<Timestamp> {
    fn is_none_or_before(&self, t: Timestamp) -> bool {
        self.is_none_or(|a| a < t)
    }
}

async fn emit(
    sink: &mut dyn RecordSink,
    kind: RecordKind,
    location: Location,
    value: Value,
    after: Option<Timestamp>,
    latest: &mut Option<Timestamp>,
) -> Result<(), ImportError> {
    match item_record(kind, value, after, latest) {
        Ok(Some(record)) => sink.record(location, record).await,
        Ok(None) => Ok(()),
        Err(((reason, field, message), id)) => {
            let location = match field {
                Some(f) => location.with_field(f),
                None => location,
            };
            sink.source_error(SourceError::new(location, reason, message).of_kind(kind).with_id(id));
            Ok(())
        }
    }
}

#[async_trait]
impl Importer for JsonFeedImporter {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<RecordKind> {
        self.feeds.iter().map(|(k, _)| *k).collect()
    }

    async fn read(&mut self, mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError> {
        let after = mode.after_time();
        let mut latest = after;
        for (kind, source) in &self.feeds {
            let kind = *kind;
            let src = source_name(&self.name, kind, source);
            let unreadable = |message: String| {
                SourceError::new(Location::source(Arc::clone(&src)), RejectReason::UnreadableSource, message)
            };
            let input: Box<dyn Read + Send> = match source {
                FeedSource::Path(p) => match File::open(p) {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        sink.source_error(unreadable(format!("cannot open: {e}")));
                        continue;
                    }
                },
                FeedSource::Bytes(b) => Box::new(Cursor::new(Arc::clone(b))),
            };
            let mut input = BufReader::with_capacity(1 << 16, input);
            // Array or NDJSON: look at the first non-blank byte.
            let mut blank_lines = 0u64;
            let first = loop {
                match input.fill_buf() {
                    Ok([]) => break None,
                    Ok(buf) => match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                        Some(i) => {
                            let b = buf[i];
                            blank_lines += buf[..i].iter().filter(|&&c| c == b'\n').count() as u64;
                            input.consume(i);
                            break Some(b);
                        }
                        None => {
                            let n = buf.len();
                            blank_lines += buf.iter().filter(|&&c| c == b'\n').count() as u64;
                            input.consume(n);
                        }
                    },
                    Err(e) => {
                        sink.source_error(unreadable(format!("cannot read: {e}")));
                        break None;
                    }
                }
            };
            match first {
                None => {}
                Some(b'[') => match serde_json::from_reader::<_, Vec<Box<serde_json::value::RawValue>>>(input) {
                    Ok(items) => {
                        // Each item is parsed on its own and strictly: a duplicate key costs that item only.
                        for (i, raw) in items.into_iter().enumerate() {
                            let location = Location::item(&src, i as u64);
                            match clerk_core::json::from_str(raw.get()) {
                                Ok(value) => emit(sink, kind, location, value, after, &mut latest).await?,
                                Err(e) => sink.source_error(
                                    SourceError::new(location, RejectReason::Malformed, e.to_string()).of_kind(kind),
                                ),
                            }
                        }
                    }
                    Err(e) => {
                        let mut location = Location::source(Arc::clone(&src));
                        location.line = Some(e.line() as u64 + blank_lines);
                        sink.source_error(SourceError::new(location, RejectReason::UnreadableSource, e.to_string()));
                    }
                },
                Some(_) => {
                    // Lines are read as bytes: one line in another encoding is one malformed record, not the
                    // end of the feed.
                    let mut bytes = Vec::new();
                    let mut number = blank_lines;
                    loop {
                        bytes.clear();
                        number += 1;
                        match input.read_until(b'\n', &mut bytes) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) => {
                                let message = format!("cannot read: {e}");
                                sink.source_error(SourceError::new(
                                    Location::line(&src, number),
                                    RejectReason::UnreadableSource,
                                    message,
                                ));
                                break;
                            }
                        }
                        if bytes.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        match clerk_core::json::from_slice(&bytes) {
                            Ok(value) => {
                                emit(sink, kind, Location::line(&src, number), value, after, &mut latest).await?
                            }
                            Err(e) => sink.source_error(
                                SourceError::new(Location::line(&src, number), RejectReason::Malformed, e.to_string())
                                    .of_kind(kind),
                            ),
                        }
                    }
                }
            }
        }
        Ok(match (latest, mode) {
            (Some(t), _) => SyncCursor::from_time(t),
            (None, SyncMode::Incremental(c)) => c.clone(),
            (None, SyncMode::Full) => SyncCursor::from_time(Timestamp::MIN),
        })
    }
}
