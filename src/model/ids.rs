//! Typed identifiers. An image id can never be passed where an annotation id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// COCO `images[].id`, CVAT `<image id>`.
    ImageId
);
id_type!(
    /// COCO `annotations[].id`. CVAT shapes have no id; readers number them in document order.
    AnnotationId
);
id_type!(
    /// COCO `categories[].id`; for CVAT, the 1-based position of the label in `<meta>`.
    CategoryId
);
