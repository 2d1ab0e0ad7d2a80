//! The offline evaluation protocol (v1): a time split of orders into train and test, the truth of each task,
//! and the scoring of any [`Recommender`] against it.
//!
//! The protocol is `../shared/eval/PROTOCOL.md`; the peers (Python) implement the same text, and the counts
//! (`users`, `baskets`, `products`) of both sides must agree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use clerk_core::{Order, Timestamp};
use serde::Serialize;

use super::metrics;

/// How many answers each task asks for.
pub const K: usize = 10;
const AUDIENCE_PRODUCTS: usize = 200;
const ALTERNATIVE_QUERIES: usize = 500;

/// What the protocol asks a model. Implement it over any engine to measure that engine.
pub trait Recommender {
    /// Task 1: `k` products `customer` will buy in the next period (repeat purchases allowed).
    fn next_period(&mut self, customer: &str, k: usize) -> Vec<String>;
    /// Task 2: `k` products new to `customer` (none they bought before).
    fn discovery(&mut self, customer: &str, k: usize) -> Vec<String>;
    /// Task 3: `k` products to complete the basket `visible` (none of `visible`), for a known customer or a guest.
    fn complete_basket(&mut self, customer: Option<&str>, visible: &[String], k: usize) -> Vec<String>;
    /// Task 4: a score per customer of `customers` (same order) for their intent to buy `product`.
    fn audience(&mut self, product: &str, customers: &[String]) -> Vec<f64>;
    /// Task 5: `k` alternatives to `product`; `None` when the model has no notion of alternatives.
    fn alternatives(&mut self, _product: &str, _k: usize) -> Option<Vec<String>> {
        None
    }
}

/// Category and type of a product, for task 5.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogFacts {
    /// The product's category (`product_category` in Complete Journey).
    pub category: Option<String>,
    /// The product's type (`product_type`).
    pub product_type: Option<String>,
}

/// Why the orders cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Task 3 hashes product ids as integers.
    #[error("product id {0:?} is not a non-negative integer (the protocol's task 3 hashes ids as integers)")]
    ProductIdNotInteger(String),
    /// Every line of an order must share customer and time; orders have one of each by construction.
    #[error("no train orders before the cutoff")]
    NoTrain,
}

/// One basket of task 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HiddenBasket {
    /// The buyer.
    pub customer: String,
    /// The products the model sees.
    pub visible: Vec<String>,
    /// The product to guess.
    pub hidden: String,
}

/// Train and test of one data set at one cutoff, with every task's truth.
#[derive(Debug)]
pub struct Split {
    /// The cutoff: train is strictly before it.
    pub cutoff: Timestamp,
    /// Orders before the cutoff, in time order: all a model may see.
    pub train: Vec<Order>,
    /// Customers with at least one train order, sorted by id (numerically when ids are numbers).
    pub active: Vec<String>,
    train_products: HashMap<String, HashSet<String>>,
    product_train_orders: HashMap<String, usize>,
    next_period: Vec<(String, HashSet<String>)>,
    baskets: Vec<HiddenBasket>,
    audience: Vec<(String, HashSet<String>, HashSet<String>)>,
    test_orders: usize,
}

/// Sorts ids numerically when they are numbers, as the peers do, else by text.
fn id_key(id: &str) -> (Option<u64>, &str) {
    (id.parse::<u64>().ok(), id)
}

fn sort_ids(ids: &mut [String]) {
    ids.sort_by(|a, b| id_key(a).cmp(&id_key(b)));
}

fn hash(product: &str) -> Result<u64, ProtocolError> {
    let p: u64 = product.parse().map_err(|_| ProtocolError::ProductIdNotInteger(product.to_owned()))?;
    Ok(p.wrapping_mul(2_654_435_761) % (1 << 32))
}

impl Split {
    /// Splits `orders` at `cutoff`. Lines with quantity <= 0 are dropped (preparation 1); orders without a
    /// customer cannot be attributed and are dropped.
    pub fn new(orders: Vec<Order>, cutoff: Timestamp) -> Result<Self, ProtocolError> {
        let mut train = Vec::new();
        let mut test = Vec::new();
        for mut o in orders {
            o.lines.retain(|l| l.quantity > 0.0);
            if o.lines.is_empty() || o.customer_id.is_none() {
                continue;
            }
            if o.time < cutoff {
                train.push(o);
            } else {
                test.push(o);
            }
        }
        if train.is_empty() {
            return Err(ProtocolError::NoTrain);
        }
        train.sort_by_key(|o| o.time);
        let customer = |o: &Order| o.customer_id.clone().unwrap_or_default();
        let mut train_products: HashMap<String, HashSet<String>> = HashMap::new();
        let mut product_train_orders: HashMap<String, usize> = HashMap::new();
        let mut train_buyers: HashMap<String, HashSet<String>> = HashMap::new();
        for o in &train {
            let distinct: BTreeSet<&str> = o.lines.iter().map(|l| l.product_id.as_str()).collect();
            let c = customer(o);
            for p in distinct {
                train_products.entry(c.clone()).or_default().insert(p.to_owned());
                *product_train_orders.entry(p.to_owned()).or_default() += 1;
                train_buyers.entry(p.to_owned()).or_default().insert(c.clone());
            }
        }
        let mut active: Vec<String> = train_products.keys().cloned().collect();
        sort_ids(&mut active);

        let mut truth: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        let mut baskets = Vec::new();
        let mut test_buyers: HashMap<String, HashSet<String>> = HashMap::new();
        for o in &test {
            let c = customer(o);
            if !train_products.contains_key(&c) {
                continue;
            }
            let distinct: BTreeSet<&str> = o.lines.iter().map(|l| l.product_id.as_str()).collect();
            for &p in &distinct {
                truth.entry(c.clone()).or_default().insert(p.to_owned());
                test_buyers.entry(p.to_owned()).or_default().insert(c.clone());
            }
            if distinct.len() >= 2 {
                let mut hidden = None;
                for &p in &distinct {
                    let h = hash(p)?;
                    if hidden.is_none_or(|(best, _)| h < best) {
                        hidden = Some((h, p));
                    }
                }
                let hidden = hidden.map(|(_, p)| p.to_owned()).unwrap_or_default();
                let visible = distinct.iter().filter(|&&p| p != hidden).map(|&p| p.to_owned()).collect();
                baskets.push(HiddenBasket { customer: c, visible, hidden });
            }
        }
        let mut next_period: Vec<(String, HashSet<String>)> = truth.into_iter().collect();
        next_period.sort_by(|a, b| id_key(&a.0).cmp(&id_key(&b.0)));

        let mut by_buyers: Vec<(&String, usize)> =
            test_buyers.iter().filter(|(p, _)| train_buyers.contains_key(*p)).map(|(p, b)| (p, b.len())).collect();
        by_buyers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| id_key(a.0).cmp(&id_key(b.0))));
        let audience = by_buyers
            .into_iter()
            .take(AUDIENCE_PRODUCTS)
            .map(|(p, _)| (p.clone(), test_buyers[p].clone(), train_buyers[p].clone()))
            .collect();
        Ok(Split {
            cutoff,
            train,
            active,
            train_products,
            product_train_orders,
            next_period,
            baskets,
            audience,
            test_orders: test.len(),
        })
    }

    /// The baskets of task 3.
    pub fn baskets(&self) -> &[HiddenBasket] {
        &self.baskets
    }

    /// Test orders (of any customer) after the cutoff.
    pub fn test_orders(&self) -> usize {
        self.test_orders
    }

    /// Distinct products of the train orders.
    pub fn train_products(&self) -> usize {
        self.product_train_orders.len()
    }

    /// Runs every task against `model`. `catalog` enables task 5.
    pub fn evaluate(&self, model: &mut dyn Recommender, catalog: Option<&HashMap<String, CatalogFacts>>) -> Report {
        let mut report = Report::default();

        let started = Instant::now();
        let answers: Vec<Vec<String>> = self.next_period.iter().map(|(c, _)| model.next_period(c, K)).collect();
        let seconds = started.elapsed().as_secs_f64();
        report.task1_qps = self.next_period.len() as f64 / seconds.max(1e-9);
        report.task1 =
            Some(TopK::mean(self.next_period.iter().zip(&answers).map(|((_, g), a)| metrics::top_k(a, g, K))));

        let mut t2 = Vec::new();
        for (c, g) in &self.next_period {
            let seen = &self.train_products[c];
            let new: HashSet<String> = g.difference(seen).cloned().collect();
            if new.is_empty() {
                continue;
            }
            let answer = model.discovery(c, K);
            report.task2_violations += answer.iter().filter(|p| seen.contains(*p)).count();
            t2.push(metrics::top_k(&answer, &new, K));
        }
        report.task2 = Some(TopK::mean(t2.into_iter()));

        for guest in [false, true] {
            let scores = self.baskets.iter().map(|b| {
                let answer = model.complete_basket((!guest).then_some(b.customer.as_str()), &b.visible, K);
                metrics::hidden_item(&answer, &b.hidden, K)
            });
            let r = Hidden::mean(scores);
            if guest {
                report.task3_guest = Some(r);
            } else {
                report.task3 = Some(r);
            }
        }

        let (mut all, mut new) = (Vec::new(), Vec::new());
        for (product, test_buyers, train_buyers) in &self.audience {
            let scores = model.audience(product, &self.active);
            let positive: Vec<bool> = self.active.iter().map(|c| test_buyers.contains(c)).collect();
            if let Some(auc) = metrics::auc(&scores, &positive) {
                all.push((metrics::precision_at(&scores, &positive, 100), auc));
            }
            let keep: Vec<usize> =
                (0..self.active.len()).filter(|&i| !train_buyers.contains(&self.active[i])).collect();
            let s: Vec<f64> = keep.iter().map(|&i| scores[i]).collect();
            let p: Vec<bool> = keep.iter().map(|&i| positive[i]).collect();
            if p.iter().any(|&x| x) {
                if let Some(auc) = metrics::auc(&s, &p) {
                    new.push((metrics::precision_at(&s, &p, 100), auc));
                }
            }
        }
        report.task4 = Some(Audience::mean(&all));
        report.task4_new_buyers = Some(Audience::mean(&new));

        if let Some(catalog) = catalog {
            report.task5 = self.alternatives(model, catalog);
        }
        report
    }

    fn alternatives(
        &self,
        model: &mut dyn Recommender,
        catalog: &HashMap<String, CatalogFacts>,
    ) -> Option<Alternatives> {
        let mut by_orders: Vec<(&String, usize)> = self.product_train_orders.iter().map(|(p, n)| (p, *n)).collect();
        by_orders.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| id_key(a.0).cmp(&id_key(b.0))));
        let queries: Vec<&String> = by_orders.into_iter().take(ALTERNATIVE_QUERIES).map(|(p, _)| p).collect();
        let wanted: HashSet<&str> = queries.iter().map(|p| p.as_str()).collect();
        // Which products each query was ever bought together with, in train.
        let mut cobought: HashMap<&str, HashSet<&str>> = HashMap::new();
        for o in &self.train {
            let ps: BTreeSet<&str> = o.lines.iter().map(|l| l.product_id.as_str()).collect();
            for &q in ps.iter().filter(|p| wanted.contains(*p)) {
                cobought.entry(q).or_default().extend(ps.iter().copied().filter(|&p| p != q));
            }
        }
        let none = CatalogFacts::default();
        let (mut cat, mut typ, mut cob) = (0.0, 0.0, 0.0);
        for q in &queries {
            let answer = model.alternatives(q, K)?;
            let facts = catalog.get(*q).unwrap_or(&none);
            for a in answer.iter().filter(|a| a != q).take(K) {
                let other = catalog.get(a).unwrap_or(&none);
                let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
                cat += f64::from(u8::from(same(&facts.category, &other.category)));
                typ += f64::from(u8::from(same(&facts.product_type, &other.product_type)));
                cob += f64::from(u8::from(cobought.get(q.as_str()).is_some_and(|s| s.contains(a.as_str()))));
            }
        }
        let n = (queries.len() * K) as f64;
        Some(Alternatives { same_category: cat / n, same_type: typ / n, cobought: cob / n, products: queries.len() })
    }
}

/// Task 1 and 2 figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TopK {
    /// Share of customers with any hit.
    #[serde(rename = "hit@10")]
    pub hit: f64,
    /// Mean recall.
    #[serde(rename = "recall@10")]
    pub recall: f64,
    /// Mean NDCG.
    #[serde(rename = "ndcg@10")]
    pub ndcg: f64,
    /// Customers scored.
    pub users: usize,
}

impl TopK {
    fn mean(items: impl Iterator<Item = (f64, f64, f64)>) -> Self {
        let mut t = TopK::default();
        for (h, r, n) in items {
            t.hit += h;
            t.recall += r;
            t.ndcg += n;
            t.users += 1;
        }
        let d = t.users.max(1) as f64;
        TopK { hit: t.hit / d, recall: t.recall / d, ndcg: t.ndcg / d, users: t.users }
    }
}

/// Task 3 figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Hidden {
    /// Share of baskets whose hidden product is in the answer.
    #[serde(rename = "hit@10")]
    pub hit: f64,
    /// Mean reciprocal rank of the hidden product.
    #[serde(rename = "mrr@10")]
    pub mrr: f64,
    /// Baskets scored.
    pub baskets: usize,
}

impl Hidden {
    fn mean(items: impl Iterator<Item = (f64, f64)>) -> Self {
        let mut t = Hidden::default();
        for (h, m) in items {
            t.hit += h;
            t.mrr += m;
            t.baskets += 1;
        }
        let d = t.baskets.max(1) as f64;
        Hidden { hit: t.hit / d, mrr: t.mrr / d, baskets: t.baskets }
    }
}

/// Task 4 figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Audience {
    /// Mean share of buyers among the top 100 customers.
    #[serde(rename = "precision@100")]
    pub precision: f64,
    /// Mean AUC.
    pub auc: f64,
    /// Products scored.
    pub products: usize,
}

impl Audience {
    fn mean(items: &[(f64, f64)]) -> Self {
        let d = items.len().max(1) as f64;
        Audience {
            precision: items.iter().map(|x| x.0).sum::<f64>() / d,
            auc: items.iter().map(|x| x.1).sum::<f64>() / d,
            products: items.len(),
        }
    }
}

/// Task 5 figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Alternatives {
    /// Share of alternatives in the query's category.
    #[serde(rename = "same_category@10")]
    pub same_category: f64,
    /// Share of alternatives of the query's type.
    #[serde(rename = "same_type@10")]
    pub same_type: f64,
    /// Share of alternatives ever bought in one train order with the query.
    #[serde(rename = "cobought@10")]
    pub cobought: f64,
    /// Queries.
    pub products: usize,
}

/// Every task's figures for one model.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Task 1: next period.
    pub task1: Option<TopK>,
    /// Task 2: discovery.
    pub task2: Option<TopK>,
    /// Task 3: basket completion with the customer known.
    pub task3: Option<Hidden>,
    /// Task 3 for guests.
    pub task3_guest: Option<Hidden>,
    /// Task 4: audience.
    pub task4: Option<Audience>,
    /// Task 4 without the product's past buyers.
    pub task4_new_buyers: Option<Audience>,
    /// Task 5: alternatives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task5: Option<Alternatives>,
    /// Task-1 queries per second, one thread.
    pub task1_qps: f64,
    /// Task-2 answers that named a product the customer had bought (the protocol forbids them).
    #[serde(skip)]
    pub task2_violations: usize,
}
