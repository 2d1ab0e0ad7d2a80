//! Interning of external string ids to dense `u32` indices.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fast, non-cryptographic hasher (the Fx hash of rustc). Ids come from the shop, not an attacker, and the
/// analysis hashes millions of them; SipHash's flood resistance is not worth its cost here.
#[derive(Default, Clone, Copy, Debug)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Each id's rank among `ids` in string order (`ranks[i]` is how many ids sort before `ids[i]`, for distinct
/// ids): what ties between scores break by, without comparing strings through pointers.
pub fn ranks_by_id(ids: &[Arc<str>]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..ids.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
    let mut rank = vec![0u32; ids.len()];
    for (r, &p) in order.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    rank
}

/// A two-way map between external string ids and dense indices `0..len`, in first-seen order.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    ids: Vec<Arc<str>>,
    index: FxHashMap<Arc<str>, u32>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `id`, adding it when new.
    pub fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = u32::try_from(self.ids.len()).expect("more than 4 billion ids");
        let id: Arc<str> = Arc::from(id);
        self.ids.push(id.clone());
        self.index.insert(id, i);
        i
    }

    /// The index of `id`, if known.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The id at `index`, if in range.
    pub fn id(&self, index: u32) -> Option<&Arc<str>> {
        self.ids.get(index as usize)
    }

    /// How many ids are interned.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is interned.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids in index order.
    pub fn ids(&self) -> &[Arc<str>] {
        &self.ids
    }
}

impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl Serialize for Interner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.ids.iter().map(|s| &**s))
    }
}

impl<'de> Deserialize<'de> for Interner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ids: Vec<String> = Vec::deserialize(deserializer)?;
        let mut interner = Interner::new();
        for id in &ids {
            if interner.intern(id) as usize != interner.len() - 1 {
                return Err(serde::de::Error::custom(format!("duplicate id {id:?}")));
            }
        }
        Ok(interner)
    }
}
