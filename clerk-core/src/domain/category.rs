//! Categories: a tree of named groups of products.

use serde::{Deserialize, Serialize};

/// A category. Categories form a tree through `parent`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Category {
    /// The shop's own id, unique among categories.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The parent category's id; `None` for a root.
    pub parent: Option<String>,
}

impl Category {
    /// A category with this id and name, at the root.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Category { id: id.into(), name: name.into(), parent: None }
    }
}
