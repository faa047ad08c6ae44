//! Storage for reference (being built; see issue 3).
