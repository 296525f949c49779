//! Where events go: the pwru-style table or JSON lines. Both read the same
//! `Context` (symbols, reason names, function names) so they agree.

mod json;
mod table;

pub use json::JsonSink;
pub use table::TableSink;

use crate::event::Event;
use crate::funcs::FuncTable;
use crate::kallsyms::Kallsyms;
use crate::reasons::DropReasons;
use crate::summary::Summary;
use std::io;

/// What turning ids and addresses into names needs.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub kallsyms: Kallsyms,
    pub reasons: Option<DropReasons>,
    pub funcs: FuncTable,
}

impl Context {
    /// The event's function as pwru shows it; drops carry their reason.
    pub fn func_text(&self, ev: &Event) -> String {
        let name = self.funcs.name(ev.meta.func_id).unwrap_or("?");
        if ev.is_drop() {
            format!(
                "kfree_skb_reason(SKB_DROP_REASON_{})",
                self.reason_name(ev.meta.reason)
            )
        } else {
            name.to_string()
        }
    }

    /// The reason without prefix, or its number when this kernel has no name.
    pub fn reason_name(&self, value: u32) -> String {
        match self.reasons.as_ref().and_then(|r| r.name_of(value)) {
            Some(n) => n.to_string(),
            None => value.to_string(),
        }
    }
}

/// An output for events and the final summary.
pub trait Sink {
    /// `stack` holds resolved frames (`symbol+0xoff`), innermost first.
    fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Context) -> io::Result<()>;
    fn summary(&mut self, summary: &Summary) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}
