//! Events of traced tc/XDP programs (`on tc`, `on xdp`) in every output.

use super::*;
use crate::abi::{self, prog_at};
use crate::testing::tcp_drop;

fn names() -> Names {
    let mut funcs = crate::hooks::HookNames::tracepoints();
    funcs.insert(abi::hook::TC, "tc");
    funcs.insert(abi::hook::XDP, "xdp");
    funcs.insert(abi::PROG_ID0, "drop_tcp_8080");
    Names {
        funcs,
        ..Names::default()
    }
}

fn prog_event(hook: u32, at: u16, ret: i32) -> Event {
    let mut ev = tcp_drop(vec![1]);
    ev.hook = hook;
    ev.meta.func_id = abi::PROG_ID0;
    ev.meta.present &= !(1 << abi::field::REASON);
    ev.meta.prog_at = at;
    ev.meta.location = if at == prog_at::LEAVE {
        u64::from(ret as u32)
    } else {
        0
    };
    ev
}

fn table_func(ev: &Event) -> String {
    let mut out = Vec::new();
    TableSink::new(&mut out).event(ev, None, &names()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let line = text.lines().nth(1).unwrap().to_string();
    line.split_once("  tc/")
        .or_else(|| line.split_once("  xdp/"))
        .map(|(_, f)| f.trim().to_string())
        .unwrap_or(line)
}

#[test]
fn the_table_names_the_program_the_point_and_the_verdict() {
    let enter = prog_event(abi::hook::TC, prog_at::ENTER, 0);
    assert_eq!(names().func_text(&enter), "tc/drop_tcp_8080 enter");
    let shot = prog_event(abi::hook::TC, prog_at::LEAVE, 2);
    assert_eq!(
        names().func_text(&shot),
        "tc/drop_tcp_8080 leave TC_ACT_SHOT"
    );
    assert_eq!(table_func(&shot), "drop_tcp_8080 leave TC_ACT_SHOT");
    let pass = prog_event(abi::hook::XDP, prog_at::LEAVE, 2);
    assert_eq!(names().func_text(&pass), "xdp/drop_tcp_8080 leave XDP_PASS");
    let odd = prog_event(abi::hook::XDP, prog_at::LEAVE, 42);
    assert_eq!(names().func_text(&odd), "xdp/drop_tcp_8080 leave 42");
}

#[test]
fn json_carries_a_prog_object_on_program_events_only() {
    let ev = prog_event(abi::hook::XDP, prog_at::LEAVE, 1);
    let mut line = Vec::new();
    JsonSink::new(&mut line).event(&ev, None, &names()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["hook"], "xdp");
    assert_eq!(v["func"], "drop_tcp_8080");
    assert_eq!(v["prog"]["kind"], "xdp");
    assert_eq!(v["prog"]["at"], "leave");
    assert_eq!(v["prog"]["ret"], 1);
    assert_eq!(v["prog"]["verdict"], "XDP_DROP");
    assert_eq!(
        v["location"],
        serde_json::Value::Null,
        "a verdict is no address"
    );
    let enter = json::event_json(
        &prog_event(abi::hook::TC, prog_at::ENTER, 0),
        None,
        &names(),
    );
    assert_eq!(enter["prog"]["at"], "enter");
    assert_eq!(enter["prog"]["verdict"], serde_json::Value::Null);
    let plain = json::event_json(&tcp_drop(vec![1]), None, &names());
    assert!(plain.get("prog").is_none());
}

#[test]
fn pcap_comments_say_where_and_the_verdict() {
    let ev = prog_event(abi::hook::TC, prog_at::LEAVE, 0);
    assert_eq!(
        pcap::comment(&ev, &names()),
        "func=drop_tcp_8080 prog=leave verdict=TC_ACT_OK rules=1"
    );
}
