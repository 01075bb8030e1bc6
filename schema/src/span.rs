//! `Sp<T>`: a value together with the byte range it came from in the TOML
//! source.
//!
//! It wraps `toml::Spanned` so that the topology types can also derive a JSON
//! Schema (`toml::Spanned` has no `JsonSchema` impl). Spans survive serde only
//! through plain structs and externally tagged enums; never put an `Sp` under
//! `#[serde(flatten)]`, an untagged or an internally tagged enum.

use std::borrow::Cow;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// A value and its byte span in the source file.
#[derive(Clone, Debug)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    /// A value that does not come from a file (tests, generated defaults).
    pub fn detached(value: T) -> Self {
        Sp { value, span: 0..0 }
    }

    pub fn get(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Default> Default for Sp<T> {
    /// The default value, detached: for `#[serde(default)]` fields whose
    /// span is wanted when they are written (`vips = []`).
    fn default() -> Self {
        Sp::detached(T::default())
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    /// Spans do not take part in equality: two definitions are the same when
    /// their values are.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Sp<T> {}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let span = spanned.span();
        Ok(Sp {
            value: spanned.into_inner(),
            span,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
