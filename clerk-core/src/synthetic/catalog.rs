//! The synthetic catalog: departments, categories, products and the planted product relations.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::sampling::{log_normal, uniform};
use super::ShopConfig;
use crate::domain::{AttributeValue, Attributes, Category, Product, Scalar, Timestamp, DAY};

/// "No index" in the compact per-product tables.
pub(super) const NONE: u32 = u32::MAX;

/// A department: name, category nouns, median price, days a staple of it lasts.
struct Department {
    name: &'static str,
    nouns: &'static [&'static str],
    median_price: f64,
    staple_days: f64,
}

const DEPARTMENTS: &[Department] = &[
    Department {
        name: "Produce",
        nouns: &["Fruit", "Vegetables", "Herbs", "Salad", "Berries", "Mushrooms"],
        median_price: 2.2,
        staple_days: 7.0,
    },
    Department {
        name: "Dairy",
        nouns: &["Milk", "Yogurt", "Cheese", "Butter", "Cream", "Eggs"],
        median_price: 2.4,
        staple_days: 7.0,
    },
    Department {
        name: "Bakery",
        nouns: &["Bread", "Rolls", "Cakes", "Pastries", "Crackers"],
        median_price: 2.8,
        staple_days: 7.0,
    },
    Department {
        name: "Meat & Fish",
        nouns: &["Chicken", "Beef", "Pork", "Fish", "Sausages", "Deli"],
        median_price: 7.5,
        staple_days: 10.0,
    },
    Department {
        name: "Pantry",
        nouns: &["Pasta", "Rice", "Sauces", "Canned Goods", "Spices", "Oils", "Cereal", "Baking"],
        median_price: 2.9,
        staple_days: 21.0,
    },
    Department {
        name: "Beverages",
        nouns: &["Water", "Juice", "Soda", "Coffee", "Tea", "Wine", "Beer"],
        median_price: 3.5,
        staple_days: 14.0,
    },
    Department {
        name: "Snacks",
        nouns: &["Chips", "Dips", "Chocolate", "Cookies", "Nuts", "Candy"],
        median_price: 2.6,
        staple_days: 14.0,
    },
    Department {
        name: "Frozen",
        nouns: &["Pizza", "Ice Cream", "Frozen Vegetables", "Ready Meals", "Frozen Fish"],
        median_price: 4.5,
        staple_days: 14.0,
    },
    Department {
        name: "Household",
        nouns: &["Cleaning", "Laundry", "Paper Goods", "Dishwashing", "Bags"],
        median_price: 4.8,
        staple_days: 28.0,
    },
    Department {
        name: "Personal Care",
        nouns: &["Shampoo", "Soap", "Toothpaste", "Skin Care", "Razors"],
        median_price: 4.9,
        staple_days: 30.0,
    },
    Department {
        name: "Baby",
        nouns: &["Diapers", "Baby Food", "Wipes", "Formula"],
        median_price: 8.5,
        staple_days: 14.0,
    },
    Department {
        name: "Pet",
        nouns: &["Dog Food", "Cat Food", "Cat Litter", "Pet Treats"],
        median_price: 7.0,
        staple_days: 21.0,
    },
    Department {
        name: "Home & Kitchen",
        nouns: &["Coffee Machines", "Printers", "Water Filters", "Kitchen Tools", "Grills"],
        median_price: 35.0,
        staple_days: 42.0,
    },
];

/// Index of the department where sequence heads (durables followed by refills) preferably come from.
const HOME_DEPARTMENT: usize = 12;

/// Qualifiers that make category names unique when a shop has more categories than nouns.
const CATEGORY_QUALIFIERS: &[&str] = &["", "Premium ", "Value ", "Specialty ", "World ", "Fresh "];
const TYPE_WORDS: &[&str] = &[
    "Classic", "Original", "Light", "Premium", "Rustic", "Mild", "Rich", "Smoked", "Sweet", "Spicy", "Golden",
    "Natural", "Hearty", "Crispy", "Creamy", "Zesty",
];
const SIZES: &[&str] = &["mini", "small", "medium", "large", "family", "value pack"];
const TAGS: &[&str] = &["vegan", "gluten_free", "local", "bestseller", "eco", "sugar_free", "imported", "fair_trade"];
const BRAND_HEADS: &[&str] = &[
    "North", "Green", "Sun", "Golden", "River", "Oak", "Blue", "Silver", "Maple", "Stone", "Bright", "Happy", "Pure",
    "Wild", "Old", "Red", "Clear", "Little", "Cedar", "Willow",
];
const BRAND_TAILS: &[&str] =
    &["field", "vale", "farm", "wood", "crest", "brook", "leaf", "hill", "mill", "bay", "ridge", "acre"];

/// A customer segment: name, preferred departments (by name), share of customers, most common age band.
pub(super) struct SegmentDef {
    pub(super) name: &'static str,
    pub(super) departments: &'static [&'static str],
    pub(super) share: f64,
    pub(super) age_band: &'static str,
}

/// The segments every synthetic shop has.
pub(super) const SEGMENTS: &[SegmentDef] = &[
    SegmentDef {
        name: "families",
        departments: &["Baby", "Snacks", "Dairy", "Frozen"],
        share: 0.25,
        age_band: "35-44",
    },
    SegmentDef {
        name: "health_conscious",
        departments: &["Produce", "Personal Care", "Beverages"],
        share: 0.20,
        age_band: "45-54",
    },
    SegmentDef {
        name: "gourmets",
        departments: &["Meat & Fish", "Bakery", "Beverages", "Pantry"],
        share: 0.20,
        age_band: "55+",
    },
    SegmentDef { name: "students", departments: &["Snacks", "Frozen", "Beverages"], share: 0.20, age_band: "18-24" },
    SegmentDef { name: "pet_owners", departments: &["Pet", "Household", "Pantry"], share: 0.15, age_band: "25-34" },
];

/// What part a product plays in the planted structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Nothing planted.
    Plain,
    /// A member of a substitute group.
    Substitute,
    /// The first product of a complementary pair.
    ComplementA,
    /// The second product of a complementary pair.
    ComplementB,
    /// The first product of a sequence (a durable).
    SequenceHead,
    /// The product bought after a sequence head.
    SequenceFollower,
    /// Sells mainly in its season window.
    Seasonal,
    /// Bought mostly by one segment.
    Signature(u8),
    /// Entered the catalog during the period.
    New,
    /// Not recommendable or out of stock: kept out of the planted structure.
    Hidden,
}

/// Compact facts about one product that the order simulation uses.
#[derive(Clone, Debug)]
pub(super) struct ProductMeta {
    pub(super) department: u8,
    /// Base popularity (Zipf-like over a random rank).
    pub(super) weight: f64,
    /// Substitute group, or [`NONE`].
    pub(super) group: u32,
    /// Complement added to the basket with the product, or [`NONE`].
    pub(super) complement: u32,
    /// Product bought after this one, or [`NONE`].
    pub(super) follower: u32,
    pub(super) role: Role,
    /// Seconds since 1970 from which it can be bought.
    pub(super) available_from: i64,
    /// Season window `[from, to)` in seconds, for seasonal products.
    pub(super) season: Option<(i64, i64)>,
    /// Sold by weight (fractional quantities).
    pub(super) weighed: bool,
    /// How long the product lasts when it is a staple, in days.
    pub(super) staple_days: f64,
}

impl ProductMeta {
    /// Whether a customer may have it as a repurchase staple.
    pub(super) fn can_be_staple(&self) -> bool {
        matches!(self.role, Role::Plain | Role::Substitute | Role::ComplementA | Role::Signature(_))
    }
}

/// The generated catalog and its planted relations, as product indices.
pub(super) struct Catalog {
    pub(super) categories: Vec<Category>,
    pub(super) products: Vec<Product>,
    pub(super) meta: Vec<ProductMeta>,
    pub(super) groups: Vec<Vec<u32>>,
    pub(super) pairs: Vec<(u32, u32)>,
    pub(super) sequences: Vec<(u32, u32)>,
    pub(super) seasonal: Vec<u32>,
    pub(super) signatures: Vec<Vec<u32>>,
    pub(super) new_products: Vec<u32>,
}

impl Catalog {
    /// The department index of a segment's preferred department names.
    pub(super) fn department_index(name: &str) -> Option<u8> {
        DEPARTMENTS.iter().position(|d| d.name == name).map(|i| i as u8)
    }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Builds the catalog from `config` with `rng`.
pub(super) fn build(config: &ShopConfig, rng: &mut StdRng) -> Catalog {
    let start = config.start.secs();
    let period = i64::from(config.days.max(1)) * DAY;
    let n_target = config.products.max(40);

    // Departments are root categories; leaf categories cycle over the departments' nouns, then qualifiers.
    let mut categories: Vec<Category> =
        DEPARTMENTS.iter().enumerate().map(|(d, dep)| Category::new(format!("d{:02}", d + 1), dep.name)).collect();
    let max_nouns = DEPARTMENTS.iter().map(|d| d.nouns.len()).max().unwrap_or(1);
    let mut slots: Vec<(usize, &str)> = Vec::new();
    for round in 0..max_nouns {
        for (d, dep) in DEPARTMENTS.iter().enumerate() {
            if let Some(noun) = dep.nouns.get(round) {
                slots.push((d, noun));
            }
        }
    }
    let max_leaves = slots.len() * CATEGORY_QUALIFIERS.len();
    let n_leaves = (n_target / 40).clamp(DEPARTMENTS.len(), max_leaves.min(300));
    let mut department_of_category = Vec::with_capacity(n_leaves);
    let mut leaf_names = Vec::with_capacity(n_leaves);
    for k in 0..n_leaves {
        let (d, noun) = slots[k % slots.len()];
        let qualifier = CATEGORY_QUALIFIERS[k / slots.len()];
        let name = format!("{qualifier}{noun}");
        let mut c = Category::new(format!("c{:04}", k + 1), name.clone());
        c.parent = Some(format!("d{:02}", d + 1));
        categories.push(c);
        department_of_category.push(d as u8);
        leaf_names.push((noun, name));
    }

    // Category sizes proportional to random weights.
    let weights: Vec<f64> = (0..n_leaves).map(|_| uniform(rng, 0.5, 1.5)).collect();
    let total: f64 = weights.iter().sum();
    let sizes: Vec<usize> = weights.iter().map(|w| ((n_target as f64) * w / total).round().max(4.0) as usize).collect();

    let brands: Vec<String> =
        BRAND_HEADS.iter().flat_map(|h| BRAND_TAILS.iter().map(move |t| format!("{h}{t}"))).collect();

    let mut products = Vec::with_capacity(n_target + n_leaves);
    let mut meta = Vec::with_capacity(n_target + n_leaves);
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for (c, &size) in sizes.iter().enumerate() {
        let d = department_of_category[c] as usize;
        let dep = &DEPARTMENTS[d];
        let category_id = &categories[DEPARTMENTS.len() + c].id;
        let (noun, _) = leaf_names[c];
        let category_median = log_normal(rng, dep.median_price, 0.35);
        let n_brands = rng.gen_range(6..=12);
        let cat_brands: Vec<&String> = brands.choose_multiple(rng, n_brands).collect();
        let mut made = 0;
        let mut type_no = 0usize;
        while made < size {
            let left = size - made;
            let cluster = if left >= 3 && rng.gen_bool(0.12) { rng.gen_range(3..=6).min(left) } else { 1 };
            let word = TYPE_WORDS[type_no % TYPE_WORDS.len()];
            let type_name = match type_no / TYPE_WORDS.len() {
                0 => format!("{word} {noun}"),
                k => format!("{word} {noun} {}", k + 1),
            };
            type_no += 1;
            let type_median = log_normal(rng, category_median, 0.3);
            let member_brands: Vec<&&String> = cat_brands.choose_multiple(rng, cluster).collect();
            let group = if cluster >= 3 {
                groups.push(Vec::with_capacity(cluster));
                (groups.len() - 1) as u32
            } else {
                NONE
            };
            for (m, brand) in member_brands.into_iter().enumerate() {
                let i = products.len();
                let size_word = SIZES[rng.gen_range(0..SIZES.len())];
                let size_factor = 1.0 + 0.25 * SIZES.iter().position(|s| *s == size_word).unwrap_or(0) as f64;
                let price = round_cents(log_normal(rng, type_median * size_factor, 0.2).max(0.19));
                let name = format!("{brand} {type_name} {size_word}");
                let mut attributes = Attributes::new();
                attributes.insert("type".into(), AttributeValue::Text(type_name.clone()));
                attributes.insert("size".into(), AttributeValue::Text(size_word.into()));
                let organic_rate = if d == 0 { 0.35 } else { 0.12 };
                attributes.insert("organic".into(), AttributeValue::Bool(rng.gen_bool(organic_rate)));
                let n_tags = [0, 0, 1, 1, 2][rng.gen_range(0..5)];
                let tags = TAGS.choose_multiple(rng, n_tags).map(|t| Scalar::Text((*t).into())).collect();
                attributes.insert("tags".into(), AttributeValue::List(tags));
                let mut p = Product::new(format!("p{:06}", i + 1));
                p.description = format!("{name}, by {brand}.");
                p.name = name;
                p.price = Some(price);
                p.list_price = rng.gen_bool(0.12).then(|| round_cents(price * uniform(rng, 1.1, 1.6)));
                p.categories = vec![category_id.clone()];
                p.brand = Some((*brand).clone());
                p.created_at = Some(Timestamp(start - (uniform(rng, 30.0, 1500.0) * DAY as f64) as i64));
                p.stock = if rng.gen_bool(0.1) { None } else { Some(rng.gen_range(1..400)) };
                p.attributes = attributes;
                products.push(p);
                meta.push(ProductMeta {
                    department: d as u8,
                    weight: 0.0,
                    group,
                    complement: NONE,
                    follower: NONE,
                    role: if group == NONE { Role::Plain } else { Role::Substitute },
                    available_from: i64::MIN,
                    season: None,
                    weighed: d == 0 && m % 2 == 0 && rng.gen_bool(0.6),
                    staple_days: dep.staple_days,
                });
                if group != NONE {
                    groups[group as usize].push(i as u32);
                }
            }
            made += cluster;
        }
    }
    let n = products.len();

    // Zipf-like popularity over a random rank.
    let mut ranks: Vec<u32> = (0..n as u32).collect();
    ranks.shuffle(rng);
    for (m, &r) in meta.iter_mut().zip(&ranks) {
        // Durables sell far less often than groceries.
        let department = if m.department as usize == HOME_DEPARTMENT { 0.15 } else { 1.0 };
        m.weight = department / (f64::from(r) + 5.0);
    }

    // Hidden (not indexable or out of stock) and new products, and then the planted roles, among the singles.
    let mut singles: Vec<u32> = (0..n as u32).filter(|&i| meta[i as usize].role == Role::Plain).collect();
    singles.shuffle(rng);
    let home: Vec<u32> =
        singles.iter().copied().filter(|&i| meta[i as usize].department as usize == HOME_DEPARTMENT).collect();
    let mut free = vec![false; n];
    for &i in &singles {
        free[i as usize] = true;
    }
    let mut any = Picker::new(singles);
    let mut home = Picker::new(home);

    let hidden = any.take(&mut free, n * 4 / 100);
    for (k, &i) in hidden.iter().enumerate() {
        let p = &mut products[i as usize];
        if k % 2 == 0 {
            p.index = false;
        } else {
            p.stock = Some(0);
            p.in_stock = false;
        }
        meta[i as usize].role = Role::Hidden;
    }
    let new_products = any.take(&mut free, (n * 3 / 100).max(2));
    for &i in &new_products {
        let from = start + (uniform(rng, 0.70, 0.95) * period as f64) as i64;
        products[i as usize].created_at = Some(Timestamp(from));
        let m = &mut meta[i as usize];
        m.role = Role::New;
        m.available_from = from;
        m.weight *= 4.0;
    }

    // Sequences: a durable (preferably Home & Kitchen) followed by a refill in another category.
    let n_sequences = (n / 150).max(4);
    let mut sequences = Vec::with_capacity(n_sequences);
    while sequences.len() < n_sequences {
        let Some(a) = home.pick(&mut free, |_| true).or_else(|| any.pick(&mut free, |_| true)) else { break };
        let category = &products[a as usize].categories;
        let Some(b) = any.pick(&mut free, |b| products[b as usize].categories != *category) else { break };
        meta[a as usize].role = Role::SequenceHead;
        meta[a as usize].follower = b;
        meta[b as usize].role = Role::SequenceFollower;
        meta[b as usize].weight *= 0.05;
        sequences.push((a, b));
    }

    // Complementary pairs: moderately popular products with a partner in another department.
    let n_pairs = (n / 60).max(5);
    let mut pairs = Vec::with_capacity(n_pairs);
    let popular_cut = 1.0 / (0.4 * n as f64 + 5.0);
    while pairs.len() < n_pairs {
        let Some(a) = any.pick(&mut free, |a| meta[a as usize].weight >= popular_cut) else { break };
        let department = meta[a as usize].department;
        let Some(b) = any.pick(&mut free, |b| meta[b as usize].department != department) else { break };
        meta[a as usize].role = Role::ComplementA;
        meta[a as usize].complement = b;
        meta[b as usize].role = Role::ComplementB;
        pairs.push((a, b));
    }

    // Seasonal products: a window of 30-70 days (at most a third of a short period) inside the period.
    let seasonal = any.take(&mut free, (n / 100).max(3));
    for &i in &seasonal {
        let half = uniform(rng, 15.0, 35.0).min(f64::from(config.days) / 6.0).max(1.0);
        let centre = uniform(rng, half, f64::from(config.days) - half);
        let from = start + ((centre - half) * DAY as f64) as i64;
        let to = start + ((centre + half) * DAY as f64) as i64;
        let m = &mut meta[i as usize];
        m.role = Role::Seasonal;
        m.season = Some((from, to));
        m.weight = m.weight.max(1.0 / (0.05 * n as f64 + 5.0));
    }

    // Signature products per segment.
    let n_signature = (n / 400).max(3);
    let signatures: Vec<Vec<u32>> = (0..SEGMENTS.len())
        .map(|s| {
            let sig = any.take(&mut free, n_signature);
            for &i in &sig {
                meta[i as usize].role = Role::Signature(s as u8);
            }
            sig
        })
        .collect();

    Catalog { categories, products, meta, groups, pairs, sequences, seasonal, signatures, new_products }
}

/// Picks products in a fixed (shuffled) order, skipping those already given a role.
struct Picker {
    order: Vec<u32>,
    cursor: usize,
}

impl Picker {
    fn new(order: Vec<u32>) -> Self {
        Picker { order, cursor: 0 }
    }

    /// The next free product that satisfies `accept`, now taken.
    fn pick(&mut self, free: &mut [bool], accept: impl Fn(u32) -> bool) -> Option<u32> {
        while self.cursor < self.order.len() && !free[self.order[self.cursor] as usize] {
            self.cursor += 1;
        }
        let found = self.order[self.cursor..].iter().copied().find(|&i| free[i as usize] && accept(i))?;
        free[found as usize] = false;
        Some(found)
    }

    /// Up to `count` free products.
    fn take(&mut self, free: &mut [bool], count: usize) -> Vec<u32> {
        (0..count).map_while(|_| self.pick(free, |_| true)).collect()
    }
}
