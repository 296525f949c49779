//! The ferret rule language.
