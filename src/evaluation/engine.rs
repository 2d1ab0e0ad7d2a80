//! The protocol's questions asked of a [`QueryEngine`], exactly as a host would ask them.

use std::collections::HashMap;

use clerk_api::{Context, Query, QueryEngine, Request, Segment, Window};
use clerk_core::Timestamp;

use super::Recommender;

/// Answers the protocol through a [`QueryEngine`]: task 1 is a `customer_picks` query, task 2
/// `customer_complementary`, task 3 `complementary` with the basket in the context (and the customer, unless a
/// guest), task 4 an `interested` audience, task 5 `alternatives`. Every query is made at the split's cutoff.
#[derive(Debug)]
pub struct EngineRecommender {
    engine: QueryEngine,
    at: Timestamp,
    /// Queries the engine refused (counted, answered as empty).
    pub errors: usize,
}

impl EngineRecommender {
    /// Asks `engine` as of time `at`.
    pub fn new(engine: QueryEngine, at: Timestamp) -> Self {
        EngineRecommender { engine, at, errors: 0 }
    }

    fn ids(&mut self, request: Request) -> Vec<String> {
        match self.engine.query_now(&request.at(self.at)) {
            Ok(r) => r.items.into_iter().map(|i| i.id.to_string()).collect(),
            Err(_) => {
                self.errors += 1;
                Vec::new()
            }
        }
    }
}

impl Recommender for EngineRecommender {
    fn next_period(&mut self, customer: &str, k: usize) -> Vec<String> {
        self.ids(Request::new(Query::CustomerPicks { customer: customer.to_owned() }).limit(k))
    }

    fn discovery(&mut self, customer: &str, k: usize) -> Vec<String> {
        self.ids(Request::new(Query::CustomerComplementary { customer: customer.to_owned() }).limit(k))
    }

    fn complete_basket(&mut self, customer: Option<&str>, visible: &[String], k: usize) -> Vec<String> {
        let mut context = Context::new().basket(visible.iter().cloned());
        if let Some(c) = customer {
            context = context.customer(c);
        }
        self.ids(Request::new(Query::Complementary { products: Vec::new() }).context(context).limit(k))
    }

    fn audience(&mut self, product: &str, customers: &[String]) -> Vec<f64> {
        let query =
            Query::Audience { product: product.to_owned(), segment: Segment::Interested, window: Window::default() };
        let request = Request::new(query).limit(customers.len()).at(self.at);
        let scores: HashMap<String, f64> = match self.engine.query_now(&request) {
            Ok(r) => r.customers.into_iter().map(|c| (c.id.to_string(), f64::from(c.score))).collect(),
            Err(_) => {
                self.errors += 1;
                HashMap::new()
            }
        };
        customers.iter().map(|c| scores.get(c).copied().unwrap_or(0.0)).collect()
    }

    fn alternatives(&mut self, product: &str, k: usize) -> Option<Vec<String>> {
        Some(self.ids(Request::new(Query::Alternatives { products: vec![product.to_owned()] }).limit(k)))
    }
}
