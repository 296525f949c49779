//! Ring buffer records as the kernel might hand them over — truncated,
//! oversized, garbage — must decode to an event or an error, and every
//! event must format in both outputs, without a panic.
#![no_main]

use ferret_core::event::decode;
use ferret_core::hooks::HookNames;
use ferret_core::kallsyms::Kallsyms;
use ferret_core::output::{JsonSink, Names, Sink, TableSink};
use ferret_core::reasons::DropReasons;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = decode(data) else { return };
    let ctx = Names {
        kallsyms: Kallsyms::parse("ffffffff81000000 T _stext\nffffffff81000100 t ip_rcv\n"),
        reasons: Some(DropReasons::from_pairs([("NOT_SPECIFIED", 2), ("NO_SOCKET", 3)])),
        funcs: HookNames::tracepoints(),
    };
    let stack = vec!["ip_rcv+0x10".to_string()];
    let mut json = JsonSink::new(Vec::new());
    json.event(&ev, Some(&stack), &ctx).expect("writing to memory");
    let mut table = TableSink::new(Vec::new());
    table.event(&ev, None, &ctx).expect("writing to memory");
});
