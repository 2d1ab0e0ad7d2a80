//! CSV importers with a column mapping: order files with one row per order line ([`CsvOrderImporter`]) and
//! catalog files with one row per product ([`CsvCatalogImporter`]). Input may be gzip; it is streamed.

mod catalog;
mod mapping;
mod source;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use clerk_core::domain::{Order, OrderLine, RecordKind, Timestamp};

pub use catalog::CsvCatalogImporter;
pub use mapping::{OrderField, OrderMapping, ProductField, ProductMapping, UnknownField};
pub use source::CsvSource;

use crate::error::{ImportError, SourceError};
use crate::importer::{Importer, RecordSink};
use crate::record::{Location, Record, SyncCursor, SyncMode};
use crate::validate::RejectReason;

fn reader(source: &CsvSource, delimiter: u8) -> std::io::Result<csv::Reader<Box<dyn std::io::Read + Send>>> {
    let input = source.open()?;
    Ok(csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).buffer_capacity(1 << 17).from_reader(input))
}

/// The column index of each header, after trimming and a leading byte-order mark.
/// A CSV file opened, with its header row; `None` after reporting an unreadable source to `sink` (the sync then
/// keeps its previous cursor).
type Opened = (csv::Reader<Box<dyn std::io::Read + Send>>, csv::ByteRecord);

fn open_with_headers(source: &CsvSource, delimiter: u8, src: &Arc<str>, sink: &mut dyn RecordSink) -> Option<Opened> {
    let unreadable =
        |message: String| SourceError::new(Location::source(Arc::clone(src)), RejectReason::UnreadableSource, message);
    let mut rdr = match reader(source, delimiter) {
        Ok(r) => r,
        Err(e) => {
            sink.source_error(unreadable(format!("cannot open: {e}")));
            return None;
        }
    };
    match rdr.byte_headers() {
        Ok(h) => {
            let headers = h.clone();
            Some((rdr, headers))
        }
        Err(e) => {
            sink.source_error(unreadable(format!("cannot read the header: {e}")));
            None
        }
    }
}

fn header_index(headers: &csv::ByteRecord, header: &str) -> Option<usize> {
    headers.iter().position(|h| {
        let h = h.strip_prefix(b"\xef\xbb\xbf").unwrap_or(h);
        h.trim_ascii() == header.as_bytes()
    })
}

#[inline]
fn text(cell: &[u8]) -> Option<&str> {
    std::str::from_utf8(cell).ok()
}

#[inline]
fn number(cell: &[u8]) -> Option<f64> {
    let s = text(cell)?.trim();
    s.parse::<f64>().ok()
}

/// Reads every row of a CSV file (plain or gzip, decompressed on a second thread) without mapping anything, and
/// returns the number of rows after the header: the baseline the import benchmark compares with.
pub fn count_rows(path: impl Into<PathBuf>) -> std::io::Result<u64> {
    let mut rdr = reader(&CsvSource::Path(path.into()), b',')?;
    let mut row = csv::ByteRecord::new();
    let mut n = 0;
    while rdr.read_byte_record(&mut row).map_err(std::io::Error::other)? {
        n += 1;
    }
    Ok(n)
}

/// Reads an order file with one row per order line and hands its orders to the Core Importer.
///
/// Consecutive rows with the same order id are grouped into one [`Record::OrderPart`]; when an order id comes
/// back later in the file, the Core Importer merges the parts. The order's customer, email and time come from its
/// first row. An incremental sync takes orders with a time after the cursor's time; the cursor returned is the
/// latest order time seen.
#[derive(Debug)]
pub struct CsvOrderImporter {
    name: String,
    source: CsvSource,
    mapping: OrderMapping,
}

impl CsvOrderImporter {
    /// An importer of the file at `path`.
    pub fn from_path(name: impl Into<String>, path: impl Into<PathBuf>, mapping: OrderMapping) -> Self {
        CsvOrderImporter { name: name.into(), source: CsvSource::Path(path.into()), mapping }
    }

    /// An importer of CSV text (plain or gzip) in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>, mapping: OrderMapping) -> Self {
        CsvOrderImporter { name: name.into(), source: CsvSource::Bytes(bytes.into()), mapping }
    }
}

struct OrderColumns {
    order: usize,
    product: usize,
    time: usize,
    customer: Option<usize>,
    email: Option<usize>,
    quantity: Option<usize>,
    price: Option<(usize, bool)>,
}

#[async_trait]
impl Importer for CsvOrderImporter {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<RecordKind> {
        vec![RecordKind::Order]
    }

    async fn read(&mut self, mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError> {
        let src = self.source.display_name(&self.name);
        let after = mode.after_time();
        let previous = match mode {
            SyncMode::Incremental(c) => c.clone(),
            SyncMode::Full => SyncCursor::from_time(Timestamp::MIN),
        };
        let unreadable = |message: String| {
            SourceError::new(Location::source(Arc::clone(&src)), RejectReason::UnreadableSource, message)
        };
        let Some((mut rdr, headers)) = open_with_headers(&self.source, self.mapping.delimiter, &src, sink) else {
            return Ok(previous);
        };
        let col = |field: OrderField| self.mapping.header(field).map(|h| (h, header_index(&headers, h)));
        let mut missing = Vec::new();
        let mut required = |field: OrderField| match col(field) {
            Some((_, Some(i))) => i,
            Some((h, None)) => {
                missing.push(format!("column {h:?} ({field}) is not in the header"));
                0
            }
            None => {
                missing.push(format!("no column is mapped to {field}"));
                0
            }
        };
        let (order, product, time) =
            (required(OrderField::OrderId), required(OrderField::ProductId), required(OrderField::Time));
        let mut optional = |field: OrderField| match col(field) {
            Some((_, Some(i))) => Some(i),
            Some((h, None)) => {
                missing.push(format!("column {h:?} ({field}) is not in the header"));
                None
            }
            None => None,
        };
        let customer = optional(OrderField::CustomerId);
        let email = optional(OrderField::Email);
        let quantity = optional(OrderField::Quantity);
        let price = optional(OrderField::UnitPrice)
            .map(|i| (i, false))
            .or_else(|| optional(OrderField::LineTotal).map(|i| (i, true)));
        if !missing.is_empty() {
            sink.source_error(unreadable(missing.join("; ")));
            return Ok(previous);
        }
        let cols = OrderColumns { order, product, time, customer, email, quantity, price };
        let latest = read_orders(&mut rdr, &cols, &src, after, sink).await?;
        Ok(match latest {
            Some(t) if after.is_none_or_before(t) => SyncCursor::from_time(t),
            _ => previous,
        })
    }
}

trait CloneHead {
    fn clone_head(&self) -> Order;
}

impl CloneHead for Order {
    fn clone_head(&self) -> Order {
        Order {
            id: self.id.clone(),
            customer_id: self.customer_id.clone(),
            email: self.email.clone(),
            time: self.time,
            lines: Vec::new(),
        }
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

/// The hot loop: one pass over the rows with one reused `ByteRecord`.
async fn read_orders(
    rdr: &mut csv::Reader<Box<dyn std::io::Read + Send>>,
    c: &OrderColumns,
    src: &Arc<str>,
    after: Option<Timestamp>,
    sink: &mut dyn RecordSink,
) -> Result<Option<Timestamp>, ImportError> {
    let mut row = csv::ByteRecord::new();
    let mut current: Option<(Order, u64)> = None;
    let mut key: Vec<u8> = Vec::new();
    // Rows of an order skipped by an incremental sync (same key as the last skipped order).
    let mut skipping = false;
    let mut latest: Option<Timestamp> = None;
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                if let Some((o, first)) = current.take() {
                    sink.record(Location::line(src, first), Record::OrderPart(o)).await?;
                }
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                let reason = if fatal { RejectReason::UnreadableSource } else { RejectReason::Malformed };
                sink.source_error(SourceError::new(Location::line(src, line), reason, e.to_string()).losing_lines(1));
                if fatal {
                    break;
                }
                continue;
            }
        }
        let line = row.position().map_or(line, |p| p.line());
        let order_id = row.get(c.order).unwrap_or_default();
        let same = !key.is_empty() && order_id == key.as_slice();
        if !same {
            skipping = false;
            if let Some((o, first)) = current.take() {
                sink.record(Location::line(src, first), Record::OrderPart(o)).await?;
            }
            let bad = |field: &str, reason: RejectReason, message: String| {
                SourceError::new(Location::line(src, line).with_field(field), reason, message)
                    .losing_lines(1)
                    .with_id(String::from_utf8_lossy(order_id).into_owned())
            };
            let Some(id) = text(order_id) else {
                key.clear();
                sink.source_error(bad("order_id", RejectReason::Malformed, "order id is not UTF-8".into()));
                continue;
            };
            let time_cell = row.get(c.time).unwrap_or_default();
            let time = match text(time_cell).map(Timestamp::parse) {
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    key.clear();
                    sink.source_error(bad(
                        "time",
                        RejectReason::BadTimestamp,
                        format!("{:?}: {e}", String::from_utf8_lossy(time_cell)),
                    ));
                    continue;
                }
                None => {
                    key.clear();
                    sink.source_error(bad("time", RejectReason::BadTimestamp, "time is not UTF-8".into()));
                    continue;
                }
            };
            key.clear();
            key.extend_from_slice(order_id);
            if after.is_some_and(|a| time <= a) {
                skipping = true;
                continue;
            }
            if latest.is_none_or_before(time) {
                latest = Some(time);
            }
            let cell =
                |i: Option<usize>| i.and_then(|i| row.get(i)).and_then(text).map(str::trim).filter(|s| !s.is_empty());
            let mut order = Order::new(id, cell(c.customer).map(str::to_owned), time);
            order.email = cell(c.email).map(str::to_owned);
            current = Some((order, line));
        } else if skipping {
            continue;
        }
        // Lines of a part must be consecutive source lines; a gap (a skipped bad row) starts a new part.
        if let Some((order, first)) = current.as_mut() {
            if *first + order.lines.len() as u64 != line {
                let head = order.clone_head();
                let old = std::mem::replace(order, head);
                let old_first = std::mem::replace(first, line);
                sink.record(Location::line(src, old_first), Record::OrderPart(old)).await?;
            }
        }
        let Some((order, _)) = current.as_mut() else { continue };
        let product_cell = row.get(c.product).unwrap_or_default();
        let product_id = match text(product_cell) {
            Some(p) => p.trim().to_owned(),
            None => {
                sink.source_error(
                    SourceError::new(
                        Location::line(src, line).with_field("product_id"),
                        RejectReason::Malformed,
                        "product id is not UTF-8",
                    )
                    .losing_lines(1)
                    .with_id(order.id.clone()),
                );
                continue;
            }
        };
        let quantity = match c.quantity.map(|i| row.get(i).unwrap_or_default()) {
            None => 1.0,
            Some(q) => match number(q) {
                Some(q) => q,
                None => {
                    let message = format!("quantity {:?} is not a number", String::from_utf8_lossy(q));
                    let id = order.id.clone();
                    sink.source_error(
                        SourceError::new(
                            Location::line(src, line).with_field("quantity"),
                            RejectReason::BadNumber,
                            message,
                        )
                        .losing_lines(1)
                        .with_id(id),
                    );
                    continue;
                }
            },
        };
        let unit_price = match c.price {
            None => None,
            Some((i, total)) => {
                let cell = row.get(i).unwrap_or_default();
                if cell.trim_ascii().is_empty() {
                    None
                } else {
                    match number(cell) {
                        Some(p) if total => (quantity > 0.0).then(|| p / quantity),
                        Some(p) => Some(p),
                        None => {
                            let message = format!("price {:?} is not a number", String::from_utf8_lossy(cell));
                            let id = order.id.clone();
                            sink.source_error(
                                SourceError::new(
                                    Location::line(src, line).with_field("price"),
                                    RejectReason::BadNumber,
                                    message,
                                )
                                .losing_lines(1)
                                .with_id(id),
                            );
                            continue;
                        }
                    }
                }
            }
        };
        order.lines.push(OrderLine { product_id, quantity, unit_price });
    }
    if let Some((o, first)) = current.take() {
        sink.record(Location::line(src, first), Record::OrderPart(o)).await?;
    }
    Ok(latest)
}
