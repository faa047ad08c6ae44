//! Storage for orders (being built; see issue 3).
