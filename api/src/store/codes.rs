//! Storage for codes (being built; see issue 3).
