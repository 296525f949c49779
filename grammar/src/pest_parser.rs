//! The parser pest derives from ferret.pest, and its rule enum: the
//! statement parser walks the pairs it yields and the syntax errors name
//! what it expected, so both take it from here.

#[derive(pest_derive::Parser)]
#[grammar = "ferret.pest"]
pub(crate) struct FerretParser;

/// pest's rule enum, under a short name: `Rule` is also the syntax tree's
/// name for a statement.
pub(crate) type R = Rule;
