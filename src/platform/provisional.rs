//! The model a [`Clerk`](super::Clerk) answers with before its first analysis has finished.

use std::sync::Arc;

use clerk_core::data::Dataset;
use clerk_core::domain::{Order, Timestamp};
use clerk_core::model::{
    AudienceMember, FoldInStats, IntentModel, ModelError, ModelStats, PopularityModel, Ranking, Relation, Scored,
};

/// The name a provisional answer carries in [`Response::model`](clerk_api::Response::model).
pub const PROVISIONAL_MODEL: &str = "provisional";

/// Best sellers counted from the store, and nothing else: no relations, no customer affinity.
///
/// With it installed the query engine's documented fallback chains answer every product query (category best
/// sellers, then best sellers), customer picks come from the purchase index, `popular`, `trending` and `new`
/// from plain counts, and an audience lists the most active customers. It is cheap to build (one pass over the
/// orders), so a handle can answer at once while the first analysis runs.
#[derive(Debug)]
pub struct ProvisionalModel {
    counts: Arc<dyn IntentModel>,
}

impl ProvisionalModel {
    /// Counts `data`.
    pub fn new(data: &Dataset) -> Result<Self, ModelError> {
        Ok(ProvisionalModel { counts: PopularityModel::new().analyse(data)? })
    }
}

impl IntentModel for ProvisionalModel {
    fn name(&self) -> &'static str {
        PROVISIONAL_MODEL
    }

    fn format(&self) -> u32 {
        self.counts.format()
    }

    fn analyse(&self, data: &Dataset) -> Result<Arc<dyn IntentModel>, ModelError> {
        Ok(Arc::new(ProvisionalModel::new(data)?))
    }

    fn fold_in(&self, orders: &[Order]) -> Result<FoldInStats, ModelError> {
        self.counts.fold_in(orders)
    }

    fn related(&self, _product: &str, _relation: Relation, _limit: usize) -> Vec<Scored> {
        Vec::new()
    }

    fn customer_affinity(&self, _customer: &str, _at: Option<Timestamp>, _limit: usize) -> Vec<Scored> {
        Vec::new()
    }

    fn audience(&self, product: &str, at: Option<Timestamp>, limit: usize) -> Vec<AudienceMember> {
        self.counts.audience(product, at, limit)
    }

    fn ranking(&self, ranking: Ranking, limit: usize) -> Vec<Scored> {
        self.counts.ranking(ranking, limit)
    }

    fn stats(&self) -> ModelStats {
        ModelStats { relations: 0, ..self.counts.stats() }
    }

    fn save(&self) -> Result<Vec<u8>, ModelError> {
        Err(ModelError::Invalid("a provisional model is never saved".into()))
    }

    fn load(&self, _bytes: &[u8]) -> Result<Arc<dyn IntentModel>, ModelError> {
        Err(ModelError::Invalid("a provisional model is never loaded".into()))
    }
}
