//! The full analysis: from an interned [`Dataset`] to the pre-computed [`State`].

use super::counts::binary_csr;
use super::relations::{self, NEXT, SAME_CUSTOMERS};
use super::settings::Settings;
use super::state::{HistItem, State, NONE};
use crate::data::Dataset;
use crate::domain::{AttributeValue, DAY};

/// The orders in the next window of order `a` of one customer's time-ordered `orders`: the next `next_orders`
/// orders, of those the ones after it and within the window. The one rule of the full analysis and fold-in,
/// so both count the same pairs.
fn window_of<'o, P>(orders: &'o [(i64, P)], a: usize, settings: &Settings) -> impl Iterator<Item = &'o P> {
    let window = (settings.next_window_days * DAY as f64) as i64;
    let t = orders[a].0;
    orders[a + 1..]
        .iter()
        .take(settings.next_orders)
        .take_while(move |(tb, _)| *tb <= t + window)
        .filter(move |(tb, _)| *tb > t)
        .map(|(_, ps)| ps)
}

/// The products of the orders in the next window of order `a` (see [`window_of`]), sorted, each once:
/// gathered and sorted in one buffer rather than a tree (an analysis builds one per order).
pub(crate) fn next_window<P: AsRef<[u32]>>(orders: &[(i64, P)], a: usize, settings: &Settings) -> Vec<u32> {
    let mut products: Vec<u32> = window_of(orders, a, settings).flat_map(|ps| ps.as_ref().iter().copied()).collect();
    products.sort_unstable();
    products.dedup();
    products
}

/// Decay factor of an event `age_secs` old with a half-life of `half_life_days`.
pub(crate) fn decay(age_secs: i64, half_life_days: f64) -> f32 {
    (0.5f64).powf(age_secs as f64 / (half_life_days * DAY as f64)) as f32
}

/// The threads `settings` ask for, else the cores available (looked up once: it reads the process' affinity
/// and limits, and fold-ins ask for every call).
pub(crate) fn threads(settings: &Settings) -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    settings
        .threads
        .unwrap_or_else(|| *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())))
}

/// Whether `CLERK_TRACE` asks for the phases of analyses and fold-ins (looked up once).
pub(crate) fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("CLERK_TRACE").is_some())
}

/// Analyses `data` with `settings`.
pub(crate) fn analyse(data: &Dataset, settings: &Settings) -> State {
    let n_products = data.products.len();
    let n_customers = data.customers.len();
    let mut s = State {
        products: data.products.clone(),
        customers: data.customers.clone(),
        indexable: (0..n_products as u32).map(|p| data.is_indexable(p)).collect(),
        reference: data.last_time().map_or(0, |t| t.secs()),
        latest: data.last_time().map_or(0, |t| t.secs()),
        ..State::default()
    };
    let clock = std::time::Instant::now();
    let lap = |what: &str| {
        if trace() {
            // The thread's CPU time too: on a shared machine the wall clock says little of a phase's own cost.
            let cpu = std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|t| t.split_whitespace().next().and_then(|x| x.parse::<f64>().ok()))
                .unwrap_or(0.0)
                / 1e9;
            eprintln!("analysis: {what} at {:.3}s (thread cpu {cpu:.3})", clock.elapsed().as_secs_f64());
        }
    };
    s.rank_ids();
    catalog_keys(data, settings, &mut s);

    let orders: Vec<_> = data.orders.iter().filter(|o| o.end > o.start).collect();
    s.orders = orders.len() as u64;
    let basket = binary_csr(orders.len(), n_products, orders.iter().map(|o| data.products_of(o)));
    let basket_t = basket.to_csc();
    let threads = threads(settings);
    s.product_orders = (0..n_products).map(|p| basket_t.outer_view(p).map_or(0, |v| v.nnz() as u32)).collect();

    // Each order's next window: the same customer's products in their next orders, within the window.
    let mut by_customer: Vec<Vec<usize>> = vec![Vec::new(); n_customers];
    for (k, o) in orders.iter().enumerate() {
        if let Some(c) = o.customer {
            by_customer[c as usize].push(k);
        }
    }
    let mut windows: Vec<Vec<u32>> = vec![Vec::new(); orders.len()];
    for list in &by_customer {
        let timed: Vec<(i64, &[u32])> =
            list.iter().map(|&k| (orders[k].time.secs(), data.products_of(orders[k]))).collect();
        for (a, &k) in list.iter().enumerate() {
            windows[k] = next_window(&timed, a, settings);
        }
    }
    let window = binary_csr(orders.len(), n_products, windows.iter());
    drop(windows);
    lap(&format!("windows ({} entries)", window.nnz()));
    s.window_orders = {
        let mut counts = vec![0u32; n_products];
        for &j in window.indices() {
            counts[j] += 1;
        }
        counts
    };

    // Bought next first: the alternatives of each product read its bought-next counts while its basket counts
    // are counted.
    let (next, next_related) = relations::count_related(&s, settings, NEXT, &basket_t, &window, threads);
    s.next = next;
    drop(window);
    lap(&format!("next ({} pairs)", s.next.rows.iter().map(super::counts::Row::len).sum::<usize>()));
    let (together, together_related, alternatives) =
        relations::count_together(&s, settings, &basket_t, &basket, threads);
    s.together = together;
    drop((basket, basket_t));
    lap(&format!("together ({} pairs)", s.together.rows.iter().map(super::counts::Row::len).sum::<usize>()));

    customer_histories(data, &orders, settings, &mut s);
    // Customer x product incidence of repeat purchases: who buys a product again and again.
    let regulars = binary_csr(
        n_customers,
        n_products,
        s.history.iter().map(|h| h.iter().filter(|x| x.count >= 2).map(|x| x.product).collect::<Vec<u32>>()),
    );
    let regulars_t = regulars.to_csc();
    s.regular_customers = (0..n_products).map(|p| regulars_t.outer_view(p).map_or(0, |v| v.nnz() as u32)).collect();
    let (regulars_counts, same_customers) =
        relations::count_related(&s, settings, SAME_CUSTOMERS, &regulars_t, &regulars, threads);
    s.regulars = regulars_counts;
    drop((regulars, regulars_t));
    lap(&format!("regulars ({} pairs)", s.regulars.rows.iter().map(super::counts::Row::len).sum::<usize>()));
    s.related = [together_related, next_related, alternatives, same_customers];
    s.similar = super::similar::neighbours(&s.history, n_products, settings, threads);
    lap("similar customers: neighbours");
    s.similar_lists = super::similar::all_lists(&s, settings, threads);
    lap("similar customers: what they bought");
    popularity(data, &orders, settings, &mut s);
    lap("popularity");
    s
}

fn catalog_keys(data: &Dataset, settings: &Settings, s: &mut State) {
    let n = data.products.len();
    s.need = vec![NONE; n];
    s.category = vec![NONE; n];
    s.brand = vec![NONE; n];
    s.created = vec![None; n];
    for (i, entry) in data.catalog.iter().enumerate() {
        let Some(p) = entry else { continue };
        if let Some(c) = p.categories.first() {
            s.category[i] = s.keys.intern(&format!("category:{c}"));
        }
        if let Some(b) = &p.brand {
            s.brand[i] = s.keys.intern(&format!("brand:{b}"));
        }
        let need = settings.type_attributes.iter().find_map(|a| match p.attributes.get(a) {
            Some(AttributeValue::Text(t)) if !t.is_empty() => Some(t.clone()),
            _ => None,
        });
        s.need[i] = match need {
            Some(t) => s.keys.intern(&format!("type:{t}")),
            None => s.category[i],
        };
        s.created[i] = p.created_at.map(|t| t.secs());
    }
}

fn customer_histories(data: &Dataset, orders: &[&crate::data::OrderRow], settings: &Settings, s: &mut State) {
    let n_customers = data.customers.len();
    let n_products = data.products.len();
    s.history = vec![Vec::new(); n_customers];
    s.customer_orders = vec![Vec::new(); n_customers];
    let mut gaps: Vec<Vec<f32>> = vec![Vec::new(); n_products];
    for o in orders {
        let Some(c) = o.customer else { continue };
        let products = data.products_of(o);
        s.customer_orders[c as usize].push((o.time.secs(), products.to_vec()));
    }
    s.activity = s
        .customer_orders
        .iter()
        .map(|list| list.iter().map(|(t, _)| decay(s.reference - t, settings.half_life_days)).sum())
        .collect();
    for (c, list) in s.customer_orders.iter().enumerate() {
        let mut items: Vec<HistItem> = Vec::new();
        let mut pos: crate::intern::FxHashMap<u32, usize> = Default::default();
        for (t, products) in list {
            for &p in products {
                let at = *pos.entry(p).or_insert_with(|| {
                    items.push(HistItem { product: p, first: *t, last: *t, ..HistItem::default() });
                    items.len() - 1
                });
                let item = &mut items[at];
                if item.count > 0 {
                    gaps[p as usize].push((t - item.last) as f32 / DAY as f32);
                }
                item.count += 1;
                item.last = *t;
                item.decayed += decay(s.reference - t, settings.half_life_days);
                item.decayed_long += decay(s.reference - t, settings.long_half_life_days);
            }
        }
        items.sort_unstable_by_key(|h| h.product);
        s.history[c] = items;
    }
    s.buyers = vec![0; n_products];
    s.repeat_buyers = vec![0; n_products];
    for h in s.history.iter().flatten() {
        s.buyers[h.product as usize] += 1;
        if h.count >= 2 {
            s.repeat_buyers[h.product as usize] += 1;
        }
    }
    s.cycle_days = gaps
        .into_iter()
        .map(|mut g| {
            if g.is_empty() {
                return 0.0;
            }
            let mid = g.len() / 2;
            *g.select_nth_unstable_by(mid, f32::total_cmp).1
        })
        .collect();
}

fn popularity(data: &Dataset, orders: &[&crate::data::OrderRow], settings: &Settings, s: &mut State) {
    let n = data.products.len();
    s.popularity = vec![0.0; n];
    s.recent = vec![0; n];
    s.baseline = vec![0; n];
    let recent = (settings.trending_recent_days * DAY as f64) as i64;
    let baseline = (settings.trending_baseline_days * DAY as f64) as i64;
    for o in orders {
        let age = s.reference - o.time.secs();
        let w = decay(age, settings.popularity_half_life_days);
        for &p in data.products_of(o) {
            s.popularity[p as usize] += w;
            if age < recent {
                s.recent[p as usize] += 1;
            } else if age < recent + baseline {
                s.baseline[p as usize] += 1;
            }
        }
    }
}
