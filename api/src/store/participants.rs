//! Storage for participants (being built; see issue 3).
