//! Storage for products (being built; see issue 3).
