//! Helpers shared by goro's example programs.
