//! The order simulation: customers with segments, staples and loyalties shop over the period; guests drop by.
//!
//! Orders are produced in a compact form (product indices, quantities in thousandths) and only turned into
//! [`crate::domain::Order`]s once, after sorting, which keeps large shops lean.

use rand::rngs::StdRng;
use rand::Rng;

use super::catalog::{Catalog, Role, NONE, SEGMENTS};
use super::sampling::{exponential, log_normal, mix, normal, stream_rng, uniform, unit, Alias};
use crate::domain::DAY;

/// Chance that a staple due is bought at the next order (else at the one after).
const STAPLE_TAKE: f64 = 0.92;
/// Chance that a basket holds a new durable (a sequence head) the customer does not own yet.
const HEAD_RATE: f64 = 0.05;
/// Chance that a durable is followed by its refill within the window.
const FOLLOW_RATE: f64 = 0.85;
/// Days after the durable that the refill becomes due: from, to; the refill is dropped after the window.
const FOLLOW_DUE_DAYS: (f64, f64) = (2.0, 21.0);
/// Chance that a complement joins the basket of its partner.
const COMPLEMENT_RATE: f64 = 0.6;
/// Chance that a buyer takes their favourite member of a substitute group.
const LOYALTY: f64 = 0.9;
/// Chance that a basket looks for a seasonal product.
const SEASON_RATE: f64 = 0.4;
/// Boost of a segment's preferred departments.
const PREFERENCE: f64 = 4.0;
/// Weight of a signature product in its own segment, and the factor for everyone else.
const SIGNATURE_WEIGHT: f64 = 0.04;
const SIGNATURE_ELSEWHERE: f64 = 0.02;
/// Anonymous buyer code.
pub(super) const ANONYMOUS: u32 = u32::MAX;

/// One order, compactly.
#[derive(Clone, Copy, Debug)]
pub(super) struct CompactOrder {
    pub(super) time: i64,
    /// Registered customer index, email-guest index after the customers, or [`ANONYMOUS`].
    pub(super) buyer: u32,
    pub(super) start: usize,
    pub(super) len: u32,
}

/// One order line, compactly: product index and quantity in thousandths.
#[derive(Clone, Copy, Debug)]
pub(super) struct CompactLine {
    pub(super) product: u32,
    pub(super) milli: u32,
}

/// Orders and lines of some buyers, and the staples planted on the way.
#[derive(Debug, Default)]
pub(super) struct History {
    pub(super) orders: Vec<CompactOrder>,
    pub(super) lines: Vec<CompactLine>,
    /// `(customer, product, cycle_days)`.
    pub(super) staples: Vec<(u32, u32, u32)>,
}

impl History {
    /// Appends `other`, shifting its line ranges.
    pub(super) fn append(&mut self, other: History) {
        let offset = self.lines.len();
        self.orders.extend(other.orders.into_iter().map(|o| CompactOrder { start: o.start + offset, ..o }));
        self.lines.extend(other.lines);
        self.staples.extend(other.staples);
    }
}

/// Everything the simulation reads, shared by the worker threads.
pub(super) struct World<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) seed: u64,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) mean_gap_days: f64,
    /// Per segment, and last for guests.
    tables: Vec<Alias>,
    heads: Vec<u32>,
    group_weight: Vec<f64>,
}

impl<'a> World<'a> {
    pub(super) fn new(catalog: &'a Catalog, seed: u64, start: i64, end: i64, mean_gap_days: f64) -> Self {
        let preferred: Vec<Vec<u8>> = SEGMENTS
            .iter()
            .map(|s| s.departments.iter().filter_map(|d| Catalog::department_index(d)).collect())
            .collect();
        let weight = |segment: Option<usize>, i: usize| -> f64 {
            let m = &catalog.meta[i];
            match m.role {
                Role::SequenceHead => 0.0,
                Role::Signature(s) if Some(s as usize) == segment => SIGNATURE_WEIGHT,
                Role::Signature(_) => SIGNATURE_WEIGHT * SIGNATURE_ELSEWHERE,
                _ => match segment {
                    Some(s) if preferred[s].contains(&m.department) => m.weight * PREFERENCE,
                    _ => m.weight,
                },
            }
        };
        let n = catalog.meta.len();
        let mut tables: Vec<Alias> =
            (0..SEGMENTS.len()).map(|s| Alias::new((0..n).map(|i| weight(Some(s), i)))).collect();
        tables.push(Alias::new((0..n).map(|i| weight(None, i))));
        let heads = catalog.sequences.iter().map(|&(a, _)| a).collect();
        let group_weight =
            catalog.groups.iter().map(|g| g.iter().map(|&m| catalog.meta[m as usize].weight).sum()).collect();
        World { catalog, seed, start, end, mean_gap_days, tables, heads, group_weight }
    }

    /// The member of `p`'s substitute group that `buyer` takes (their favourite, mostly), or `p` itself.
    fn loyal(&self, p: u32, buyer: u64, rng: &mut StdRng) -> u32 {
        let group = self.catalog.meta[p as usize].group;
        if group == NONE {
            return p;
        }
        let members = &self.catalog.groups[group as usize];
        if !rng.gen_bool(LOYALTY) {
            return members[rng.gen_range(0..members.len())];
        }
        let total = self.group_weight[group as usize];
        let mut x = unit(mix(self.seed ^ buyer.wrapping_mul(0x2545_F491_4F6C_DD1D), u64::from(group))) * total;
        for &m in members {
            x -= self.catalog.meta[m as usize].weight;
            if x < 0.0 {
                return m;
            }
        }
        members[members.len() - 1]
    }

    fn in_season(&self, p: u32, t: i64) -> bool {
        self.catalog.meta[p as usize].season.is_none_or(|(from, to)| (from..to).contains(&t))
    }

    fn quantity(&self, p: u32, rng: &mut StdRng) -> u32 {
        if self.catalog.meta[p as usize].weighed {
            return (uniform(rng, 0.2, 2.5) * 1000.0).round() as u32;
        }
        let x: f64 = rng.gen();
        1000 * match x {
            _ if x < 0.72 => 1,
            _ if x < 0.90 => 2,
            _ if x < 0.96 => 3,
            _ => rng.gen_range(4..=6),
        }
    }

    /// Fills `basket` up to `target` products at time `t` for `who`: a seasonal look, then draws from their
    /// popularity table, with loyalty and complements.
    fn fill(&self, basket: &mut Basket, target: usize, t: i64, who: Who<'_>, rng: &mut StdRng) {
        let Who { buyer, table, skip } = who;
        if rng.gen_bool(SEASON_RATE) && !self.catalog.seasonal.is_empty() {
            for _ in 0..3 {
                let p = self.catalog.seasonal[rng.gen_range(0..self.catalog.seasonal.len())];
                if self.in_season(p, t) {
                    self.put(basket, p, rng);
                    break;
                }
            }
        }
        let mut attempts = 0;
        while basket.items.len() < target && attempts < 4 * target + 10 {
            attempts += 1;
            let Some(p) = self.tables[table].sample(rng) else { break };
            let p = p as u32;
            let m = &self.catalog.meta[p as usize];
            if m.available_from > t || m.role == Role::SequenceHead {
                continue;
            }
            if !self.in_season(p, t) && rng.gen_bool(0.95) {
                continue;
            }
            let p = self.loyal(p, buyer, rng);
            let group = self.catalog.meta[p as usize].group;
            if skip.contains(&p) || (group != NONE && basket.groups.contains(&group) && rng.gen_bool(0.95)) {
                continue;
            }
            self.put(basket, p, rng);
        }
    }

    /// Adds `p` (when not in the basket yet) and, sometimes, its complement.
    fn put(&self, basket: &mut Basket, p: u32, rng: &mut StdRng) {
        if !basket.add(p, self.catalog.meta[p as usize].group) {
            return;
        }
        let b = self.catalog.meta[p as usize].complement;
        if b != NONE && rng.gen_bool(COMPLEMENT_RATE) {
            basket.add(b, self.catalog.meta[b as usize].group);
        }
    }

    fn emit(&self, history: &mut History, basket: &Basket, time: i64, buyer: u32, rng: &mut StdRng) {
        let start = history.lines.len();
        for &p in &basket.items {
            history.lines.push(CompactLine { product: p, milli: self.quantity(p, rng) });
        }
        history.orders.push(CompactOrder { time, buyer, start, len: basket.items.len() as u32 });
    }

    /// Simulates registered customer `c` of `segment`.
    pub(super) fn customer(&self, c: u32, segment: usize, history: &mut History) {
        let mut rng = stream_rng(self.seed, 0x1_0000_0000 + u64::from(c));
        let rng = &mut rng;
        let buyer = u64::from(c);
        let period = (self.end - self.start) as f64;
        // Log-normal pace with E[1 / gap] = 1 / mean, so the expected number of orders matches the mean gap.
        let gap = (self.mean_gap_days * (0.5 * normal(rng) + 0.125).exp()).clamp(1.0, 90.0);
        let active_from =
            if rng.gen_bool(0.8) { self.start } else { self.start + (uniform(rng, 0.0, 0.8) * period) as i64 };
        let active_to =
            if rng.gen_bool(0.1) { self.start + (uniform(rng, 0.3, 1.0) * period) as i64 } else { self.end };

        // Staples: products this customer re-buys on a cycle of their own.
        let mut staples: Vec<Staple> = Vec::new();
        let wanted = rng.gen_range(2..=6);
        for _ in 0..40 {
            if staples.len() >= wanted {
                break;
            }
            let Some(p) = self.tables[segment].sample(rng) else { break };
            let p = self.loyal(p as u32, buyer, rng);
            let m = &self.catalog.meta[p as usize];
            if !m.can_be_staple() || staples.iter().any(|s| s.product == p) {
                continue;
            }
            let cycle = (m.staple_days * uniform(rng, 0.8, 1.6)).max(2.0 * gap).round().max(3.0);
            let next_due = active_from + (uniform(rng, 0.0, cycle) * DAY as f64) as i64;
            staples.push(Staple { product: p, cycle, next_due });
        }
        history.staples.extend(staples.iter().map(|s| (c, s.product, s.cycle as u32)));
        let staple_ids: Vec<u32> = staples.iter().map(|s| s.product).collect();

        let mut owned: Vec<u32> = Vec::new();
        let mut pending: Vec<(u32, i64, i64)> = Vec::new();
        let mut basket = Basket::default();
        let mut t = active_from + (uniform(rng, 0.0, gap) * DAY as f64) as i64;
        while t < active_to {
            let time = shop_hours(t);
            basket.clear();
            let target = basket_size(rng);
            for s in &mut staples {
                if time >= s.next_due && rng.gen_bool(STAPLE_TAKE) {
                    self.put(&mut basket, s.product, rng);
                    s.next_due = time + (s.cycle * uniform(rng, 0.85, 1.15) * DAY as f64) as i64;
                }
            }
            pending.retain(|&(b, due, deadline)| {
                if time < due {
                    return true;
                }
                if time <= deadline {
                    basket.add(b, self.catalog.meta[b as usize].group);
                }
                false
            });
            if !self.heads.is_empty() && rng.gen_bool(HEAD_RATE) {
                let a = self.heads[rng.gen_range(0..self.heads.len())];
                if !owned.contains(&a) && self.catalog.meta[a as usize].available_from <= time {
                    owned.push(a);
                    self.put(&mut basket, a, rng);
                    if rng.gen_bool(FOLLOW_RATE) {
                        let b = self.catalog.meta[a as usize].follower;
                        let due = time + (uniform(rng, FOLLOW_DUE_DAYS.0, FOLLOW_DUE_DAYS.1) * DAY as f64) as i64;
                        pending.push((b, due, time + i64::from(super::SEQUENCE_WINDOW_DAYS) * DAY));
                    }
                }
            }
            self.fill(&mut basket, target, time, Who { buyer, table: segment, skip: &staple_ids }, rng);
            if !basket.items.is_empty() {
                self.emit(history, &basket, time, c, rng);
            }
            t += ((0.35 + 0.65 * exponential(rng)) * gap * DAY as f64) as i64;
        }
    }

    /// Simulates `orders` guest orders: email guests (buyer codes from `first_code`) with 1-3 orders each,
    /// and `anonymous` orders without any buyer.
    pub(super) fn guests(&self, email_orders: usize, anonymous: usize, first_code: u32, history: &mut History) -> u32 {
        let mut rng = stream_rng(self.seed, 0x2_0000_0000);
        let rng = &mut rng;
        let guest_table = SEGMENTS.len();
        let mut basket = Basket::default();
        let mut made = 0;
        let mut code = first_code;
        let period = (self.end - self.start) as f64;
        while made < email_orders {
            let n = rng.gen_range(1..=3).min(email_orders - made);
            for _ in 0..n {
                let time = shop_hours(self.start + (uniform(rng, 0.0, 1.0) * period) as i64);
                basket.clear();
                let target = basket_size(rng);
                let who = Who { buyer: u64::from(code), table: guest_table, skip: &[] };
                self.fill(&mut basket, target, time, who, rng);
                if basket.items.is_empty() {
                    basket.add(self.catalog.pairs.first().map_or(0, |p| p.0), NONE);
                }
                self.emit(history, &basket, time, code, rng);
            }
            made += n;
            code += 1;
        }
        for k in 0..anonymous {
            let time = shop_hours(self.start + (uniform(rng, 0.0, 1.0) * period) as i64);
            basket.clear();
            let target = basket_size(rng);
            let who = Who { buyer: 0xA000_0000_0000 + k as u64, table: guest_table, skip: &[] };
            self.fill(&mut basket, target, time, who, rng);
            if basket.items.is_empty() {
                basket.add(self.catalog.pairs.first().map_or(0, |p| p.0), NONE);
            }
            self.emit(history, &basket, time, ANONYMOUS, rng);
        }
        code - first_code
    }
}

/// Who fills a basket: the buyer code (for loyalties), their popularity table, and the products they get on a
/// schedule instead of by chance.
#[derive(Clone, Copy)]
struct Who<'s> {
    buyer: u64,
    table: usize,
    skip: &'s [u32],
}

struct Staple {
    product: u32,
    cycle: f64,
    next_due: i64,
}

/// The distinct products of one basket and the substitute groups they belong to.
#[derive(Default)]
struct Basket {
    items: Vec<u32>,
    groups: Vec<u32>,
}

impl Basket {
    fn clear(&mut self) {
        self.items.clear();
        self.groups.clear();
    }

    fn add(&mut self, p: u32, group: u32) -> bool {
        if self.items.contains(&p) {
            return false;
        }
        self.items.push(p);
        if group != NONE {
            self.groups.push(group);
        }
        true
    }
}

/// A grocery basket size: log-normal with median 5 and mean about 9 lines.
fn basket_size(rng: &mut StdRng) -> usize {
    log_normal(rng, 5.0, 1.1).round().clamp(1.0, 100.0) as usize
}

/// Moves a time to the same day's shop hours (07:00-22:00), keeping its order within the day.
fn shop_hours(t: i64) -> i64 {
    let day = t.div_euclid(DAY);
    let second = t.rem_euclid(DAY);
    day * DAY + 7 * 3600 + second * 15 / 24
}
