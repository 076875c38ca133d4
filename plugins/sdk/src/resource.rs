//! A store table paired with the noun its 404 names and the type its rows read as, declared
//! once as a `const` so that a module does not write its own `existing()` for every table
//! it reads by id:
//!
//! ```ignore
//! pub const JOB: Resource = Resource::new("jobs", "job");
//! let job = JOB.existing(id)?; // Record<Columns>, or 404 "no job with this id"
//! ```

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::problem::Problem;
use crate::store::Record;

/// Rows as loose columns, what most handlers read.
pub type Columns = serde_json::Map<String, serde_json::Value>;

#[derive(Debug)]
pub struct Resource<T = Columns> {
    pub table: &'static str,
    /// What a client calls a row, for problems (`"service type"`).
    pub what: &'static str,
    row: PhantomData<fn() -> T>,
}

impl<T> Clone for Resource<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Resource<T> {}

impl<T: DeserializeOwned> Resource<T> {
    pub const fn new(table: &'static str, what: &'static str) -> Self {
        Self {
            table,
            what,
            row: PhantomData,
        }
    }

    /// The row, or 404 `not_found` naming the resource.
    pub fn existing(&self, id: &str) -> Result<Record<T>, Problem> {
        self.existing_as(id)
    }

    /// The row read as another type (a typed view of the same table), or 404.
    pub fn existing_as<U: DeserializeOwned>(&self, id: &str) -> Result<Record<U>, Problem> {
        crate::etag::existing(self.table, id, self.what)
    }
}
