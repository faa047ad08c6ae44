//! Typed ids: a `ParticipantId` can never be passed where an `OrderId` is
//! expected. All are UUIDs (v4, random), stored as text in both engines so the
//! schema stays identical.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A participant of trade: manufacturer, importer, wholesaler, retailer.
    ParticipantId
);
id_type!(
    /// An operator staff account: administrator, inspector, analyst.
    StaffId
);
id_type!(
    /// An emission order.
    OrderId
);
id_type!(
    /// A participant's document (introduction, shipment, withdrawal, …).
    DocumentId
);
