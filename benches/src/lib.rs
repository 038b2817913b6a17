//! Helpers shared by goro's benchmark programs.
