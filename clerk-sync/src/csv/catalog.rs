//! The catalog CSV importer: one row per product.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use clerk_core::domain::{AttributeValue, Category, Product, RecordKind, Timestamp};

use super::{header_index, open_with_headers, text, CsvSource, ProductField, ProductMapping};
use crate::error::{ImportError, SourceError};
use crate::importer::{Importer, RecordSink};
use crate::record::{Location, Record, SyncCursor, SyncMode};
use crate::validate::RejectReason;

/// Reads a catalog file with one row per product. Empty cells are absent values.
///
/// Category cells become category ids; with [`ProductMapping::emit_categories`] a category record (id and name
/// = the cell) is emitted the first time each one appears. The file has no modification times, so an
/// incremental sync reads it whole and upserts (without deleting); the cursor stays as it was.
#[derive(Debug)]
pub struct CsvCatalogImporter {
    name: String,
    source: CsvSource,
    mapping: ProductMapping,
}

impl CsvCatalogImporter {
    /// An importer of the file at `path`.
    pub fn from_path(name: impl Into<String>, path: impl Into<PathBuf>, mapping: ProductMapping) -> Self {
        CsvCatalogImporter { name: name.into(), source: CsvSource::Path(path.into()), mapping }
    }

    /// An importer of CSV text (plain or gzip) in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>, mapping: ProductMapping) -> Self {
        CsvCatalogImporter { name: name.into(), source: CsvSource::Bytes(bytes.into()), mapping }
    }
}

fn flag(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" => Some(true),
        "0" | "false" | "no" | "n" => Some(false),
        _ => None,
    }
}

#[async_trait]
impl Importer for CsvCatalogImporter {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<RecordKind> {
        let has_categories =
            self.mapping.columns.iter().any(|(_, f)| matches!(f, ProductField::Category | ProductField::Categories));
        if has_categories && self.mapping.emit_categories {
            vec![RecordKind::Category, RecordKind::Product]
        } else {
            vec![RecordKind::Product]
        }
    }

    async fn read(&mut self, mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError> {
        let src = self.source.display_name(&self.name);
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
        let mut columns = Vec::with_capacity(self.mapping.columns.len());
        let mut missing = Vec::new();
        for (header, field) in &self.mapping.columns {
            match header_index(&headers, header) {
                Some(i) => columns.push((i, header.as_str(), field)),
                None => missing.push(format!("column {header:?} is not in the header")),
            }
        }
        if !columns.iter().any(|(_, _, f)| **f == ProductField::Id) {
            missing.push("no column is mapped to id".to_owned());
        }
        if !missing.is_empty() {
            sink.source_error(unreadable(missing.join("; ")));
            return Ok(previous);
        }
        let mut categories_seen: HashSet<String> = HashSet::new();
        let mut row = csv::ByteRecord::new();
        let mut latest = Timestamp::MIN;
        loop {
            let line = rdr.position().line() + 1;
            match rdr.read_byte_record(&mut row) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map_or(line, |p| p.line());
                    let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                    let reason = if fatal { RejectReason::UnreadableSource } else { RejectReason::Malformed };
                    sink.source_error(
                        SourceError::new(Location::line(&src, line), reason, e.to_string())
                            .of_kind(RecordKind::Product),
                    );
                    if fatal {
                        break;
                    }
                    continue;
                }
            }
            let line = row.position().map_or(line, |p| p.line());
            let mut product = Product::default();
            let mut bad: Option<(RejectReason, &str, String)> = None;
            for &(i, header, field) in &columns {
                let cell = row.get(i).unwrap_or_default();
                let Some(cell) = text(cell) else {
                    bad = Some((RejectReason::Malformed, header, "cell is not UTF-8".to_owned()));
                    break;
                };
                let cell = cell.trim();
                if cell.is_empty() {
                    continue;
                }
                let number =
                    || cell.parse::<f64>().map_err(|_| (RejectReason::BadNumber, format!("{cell:?} is not a number")));
                let result: Result<(), (RejectReason, String)> = (|| {
                    match field {
                        ProductField::Id => product.id = cell.to_owned(),
                        ProductField::Name => product.name = cell.to_owned(),
                        ProductField::Description => product.description = cell.to_owned(),
                        ProductField::Price => product.price = Some(number()?),
                        ProductField::ListPrice => product.list_price = Some(number()?),
                        ProductField::Category => product.categories.push(cell.to_owned()),
                        ProductField::Categories => product.categories.extend(
                            cell.split(self.mapping.list_separator)
                                .map(str::trim)
                                .filter(|c| !c.is_empty())
                                .map(str::to_owned),
                        ),
                        ProductField::Brand => product.brand = Some(cell.to_owned()),
                        ProductField::CreatedAt => {
                            let t = Timestamp::parse(cell)
                                .map_err(|e| (RejectReason::BadTimestamp, format!("{cell:?}: {e}")))?;
                            latest = latest.max(t);
                            product.created_at = Some(t);
                        }
                        ProductField::Stock => {
                            product.stock =
                                Some(cell.parse::<u64>().map_err(|_| {
                                    (RejectReason::BadNumber, format!("{cell:?} is not a whole number"))
                                })?)
                        }
                        ProductField::InStock => {
                            product.in_stock =
                                flag(cell).ok_or((RejectReason::Malformed, format!("{cell:?} is not a yes/no")))?
                        }
                        ProductField::Index => {
                            product.index =
                                flag(cell).ok_or((RejectReason::Malformed, format!("{cell:?} is not a yes/no")))?
                        }
                        ProductField::Attribute(name) => {
                            product.attributes.insert(name.clone(), AttributeValue::Text(cell.to_owned()));
                        }
                    }
                    Ok(())
                })();
                if let Err((reason, message)) = result {
                    bad = Some((reason, header, message));
                    break;
                }
            }
            if let Some((reason, header, message)) = bad {
                sink.source_error(
                    SourceError::new(Location::line(&src, line).with_field(header), reason, message)
                        .of_kind(RecordKind::Product)
                        .with_id(product.id),
                );
                continue;
            }
            if self.mapping.emit_categories {
                for c in &product.categories {
                    if !categories_seen.contains(c) {
                        categories_seen.insert(c.clone());
                        let category = Category::new(c.clone(), c.clone());
                        sink.record(Location::line(&src, line), Record::Category(category)).await?;
                    }
                }
            }
            sink.record(Location::line(&src, line), Record::Product(product)).await?;
        }
        let _ = latest;
        Ok(previous)
    }
}
