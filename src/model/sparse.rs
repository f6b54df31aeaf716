//! Out-of-line storage for fields that are almost always empty.
//!
//! Why: an `IndexMap` is 72 bytes and a `Vec` 24 even when empty, and every annotation
//! carried a map of user attributes and a list of CVAT attributes that most files never
//! fill. At a million annotations that was over 100 MB of empty fields. [`Sparse`] is one
//! pointer, null while the value is empty, and reads and writes like the value itself
//! (`Deref`/`DerefMut`), so code that used the field as a map or a list keeps doing so.

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::{AttrValue, JsonMap};

/// A value type with a shared empty instance that an unset [`Sparse`] reads as.
pub trait EmptyValue: Default + 'static {
    /// The empty value.
    fn empty() -> &'static Self;
    /// Whether this value is empty (then a [`Sparse`] need not hold it).
    fn is_empty_value(&self) -> bool;
}

impl EmptyValue for IndexMap<String, AttrValue> {
    fn empty() -> &'static Self {
        static EMPTY: OnceLock<IndexMap<String, AttrValue>> = OnceLock::new();
        EMPTY.get_or_init(IndexMap::new)
    }
    fn is_empty_value(&self) -> bool {
        self.is_empty()
    }
}

impl EmptyValue for JsonMap {
    fn empty() -> &'static Self {
        static EMPTY: OnceLock<JsonMap> = OnceLock::new();
        EMPTY.get_or_init(JsonMap::new)
    }
    fn is_empty_value(&self) -> bool {
        self.is_empty()
    }
}

impl EmptyValue for Vec<(String, String)> {
    fn empty() -> &'static Self {
        static EMPTY: Vec<(String, String)> = Vec::new();
        &EMPTY
    }
    fn is_empty_value(&self) -> bool {
        self.is_empty()
    }
}

/// A `T` kept behind a pointer that is null while it is empty; reads and writes like `T`.
///
/// Reading an unset value gives the shared empty `T`; the first mutable use allocates it.
/// Equality, `Debug` and serde treat it as the `T` it holds, so an unset value and a set but
/// empty one are the same.
pub struct Sparse<T: EmptyValue>(Option<Box<T>>);

impl<T: EmptyValue> Sparse<T> {
    /// An unset (empty) value, with no allocation.
    pub const fn new() -> Self {
        Sparse(None)
    }

    /// The value if it is set, without allocating one (mutable use through `DerefMut`
    /// allocates: removing from an unset value that way would cost the allocation it
    /// avoids).
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }

    /// Whether a value is held (allocated); an unset value reads as the empty `T`.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The value, taken out (an empty `T` when unset).
    pub fn into_inner(self) -> T {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl<T: EmptyValue> Default for Sparse<T> {
    fn default() -> Self {
        Sparse(None)
    }
}

impl<T: EmptyValue> From<T> for Sparse<T> {
    /// Holds `value`, or nothing when it is empty.
    fn from(value: T) -> Self {
        Sparse((!value.is_empty_value()).then(|| Box::new(value)))
    }
}

impl<T: EmptyValue + Clone> Clone for Sparse<T> {
    fn clone(&self) -> Self {
        Sparse(self.0.clone())
    }
}

impl<T: EmptyValue> Deref for Sparse<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(v) => v,
            None => T::empty(),
        }
    }
}

impl<T: EmptyValue> DerefMut for Sparse<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: EmptyValue + PartialEq> PartialEq for Sparse<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Compares with a plain `T` as with another `Sparse<T>`.
impl<T: EmptyValue + PartialEq> PartialEq<T> for Sparse<T> {
    fn eq(&self, other: &T) -> bool {
        **self == *other
    }
}

impl<T: EmptyValue + std::fmt::Debug> std::fmt::Debug for Sparse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: EmptyValue + Serialize> Serialize for Sparse<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de, T: EmptyValue + Deserialize<'de>> Deserialize<'de> for Sparse<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Sparse::from)
    }
}

impl<A, T: EmptyValue + FromIterator<A>> FromIterator<A> for Sparse<T> {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        Sparse::from(iter.into_iter().collect::<T>())
    }
}

impl<'a, T: EmptyValue> IntoIterator for &'a Sparse<T>
where
    &'a T: IntoIterator,
{
    type Item = <&'a T as IntoIterator>::Item;
    type IntoIter = <&'a T as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_value_reads_as_empty_and_costs_one_pointer() {
        let mut a: Sparse<IndexMap<String, AttrValue>> = Sparse::new();
        assert!(a.is_empty());
        assert_eq!(a, Sparse::from(IndexMap::new()));
        assert!(Sparse::<JsonMap>::from(JsonMap::new()).0.is_none());
        a.insert("k".into(), AttrValue::from(1));
        assert_eq!(a["k"], 1);
        assert_eq!(format!("{a:?}"), format!("{:?}", a.clone().into_inner()));
        assert_eq!(serde_json::to_string(&a).expect("serialises"), r#"{"k":1}"#);
        a.clear();
        assert_eq!(a, Sparse::new(), "set but empty equals unset");
        assert_eq!(std::mem::size_of::<Sparse<Vec<(String, String)>>>(), 8);
    }
}
