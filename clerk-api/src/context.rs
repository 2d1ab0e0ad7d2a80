//! The caller's real-time behaviour, sent with any request.

use serde::{Deserialize, Serialize};

/// What the caller knows about the current visit. It changes the answer at query time, with no re-analysis.
///
/// Lists are in the order things happened, the most recent **last**; recent items weigh more
/// ([`Blend::recency_decay`](crate::score::Blend::recency_decay)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Context {
    /// The customer, when known: a customer id or an email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Products viewed in this session.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub viewed: Vec<String>,
    /// Products in the basket now. They are never suggested back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub basket: Vec<String>,
    /// Products recently clicked (in lists, banners, earlier recommendations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clicks: Vec<String>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the context carries any product signal (viewed, basket or clicks).
    pub fn has_products(&self) -> bool {
        !self.viewed.is_empty() || !self.basket.is_empty() || !self.clicks.is_empty()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.customer.is_none() && !self.has_products()
    }

    /// Sets the customer.
    pub fn customer(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// Sets the viewed products.
    pub fn viewed<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.viewed = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the basket.
    pub fn basket<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.basket = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the clicked products.
    pub fn clicks<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.clicks = ids.into_iter().map(Into::into).collect();
        self
    }
}
