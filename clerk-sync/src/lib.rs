//! # clerk-sync
//!
//! The data sync subsystem: it makes sure the store holds the right products, categories, customers and orders,
//! and catches and explains bad data. It has two layers:
//!
//! - the [`CoreImporter`] takes records in the internal format (the [`clerk_core::domain`] model), validates
//!   them ([`validate`]) and stores them in batches through [`clerk_core::DataStore`], returning a
//!   [`SyncReport`]; it also applies single real-time updates ([`CoreImporter::apply`]);
//! - platform importers ([`Importer`]) read a platform or file format and hand records to the Core Importer:
//!   [`json_feed::JsonFeedImporter`] and the CSV importers in [`csv`] ship with clerk.
//!
//! [`DataHealth`] grades the store and the last sync reports; [`SyncScheduler`] decides when each importer runs.
//!
//! ```
//! use std::sync::Arc;
//! use clerk_core::{DataStore, MemoryStore};
//! use clerk_sync::csv::{CsvOrderImporter, OrderMapping};
//! use clerk_sync::{CoreImporter, SyncMode};
//!
//! # futures::executor::block_on(async {
//! let csv = "basket,household,item,qty,when\nb1,h1,milk,1,2024-05-01 10:00:00\nb1,h1,bread,2,2024-05-01 10:00:00\n";
//! let mapping = OrderMapping::new("basket", "item", "when").customer("household").quantity("qty");
//! let mut importer = CsvOrderImporter::from_bytes("orders", csv.as_bytes().to_vec(), mapping);
//! let store = Arc::new(MemoryStore::new());
//! let report = CoreImporter::new(store.clone()).sync(&mut importer, SyncMode::Full).await;
//! assert_eq!(report.lines.stored, 2);
//! assert_eq!(store.counts().await.unwrap().orders, 1);
//! # });
//! ```

pub mod core_importer;
pub mod csv;
pub mod error;
pub mod health;
pub mod importer;
pub mod json_feed;
pub mod record;
pub mod report;
pub mod schedule;
pub mod validate;

pub use core_importer::{ApplyError, Change, ChangeNotice, Clock, CoreConfig, CoreImporter, RealtimeUpdate};
pub use error::{ImportError, SourceError};
pub use health::{Check, DataHealth, Grade, HealthConfig, HealthFacts};
pub use importer::{Importer, RecordSink, VecImporter};
pub use json_feed::{FeedSource, JsonFeedImporter};
pub use record::{Location, Record, SyncCursor, SyncMode};
pub use report::{Outcome, SyncReport};
pub use schedule::{ImporterSchedule, Observation, ScheduleConfig, SyncScheduler};
pub use validate::{FlagReason, RejectReason};
