//! The rule table over a fake kernel.

use super::*;
use crate::testing::FakeKernel;
use ferret_core::check::{CheckEnv, NoNetnsNames};
use ferret_core::hooks::HookNames;
use ferret_kernel::func_catalog::{FuncCatalog, KallsymsMiss, NoFilterList, Traceable};
use ferret_kernel::kernel_btf::SkbFunc;

fn catalog() -> Arc<FuncCatalog> {
    let funcs = ["ip_rcv", "ip_rcv_core", "ip_refused", "tcp_v4_rcv"]
        .iter()
        .map(|n| SkbFunc {
            name: n.to_string(),
            position: 1,
            reason_position: 0,
            module: None,
        })
        .collect();
    Arc::new(FuncCatalog::build(
        funcs,
        None,
        Traceable::Unchecked {
            why: NoFilterList { misses: Vec::new() },
            kallsyms: KallsymsMiss::HidesAddresses,
        },
    ))
}

fn plan(text: &str) -> RulePlan {
    let reasons = ferret_core::reasons::DropReasons::from_pairs([("NO_SOCKET", 3)]);
    let mut funcs = HookNames::tracepoints();
    catalog().add_to(&mut funcs);
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let (plan, diags) = ferret_core::compile(text, &env);
    plan.unwrap_or_else(|| panic!("{diags:?}")).rules.remove(0)
}

#[test]
fn hooks_follow_the_rules_that_need_them() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    let a = t.add(&mut k, plan("on drop where dport == 443")).unwrap();
    let b = t.add(&mut k, plan("on drop, recv")).unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(k.attached, vec![abi::hook::DROP, abi::hook::RECV]);
    assert_eq!(k.config.nrules, 2);
    t.remove(&mut k, b).unwrap();
    assert_eq!(
        k.attached,
        vec![abi::hook::DROP],
        "recv is detached once no rule needs it"
    );
    t.set_paused(&mut k, a, true).unwrap();
    assert!(k.attached.is_empty());
    assert_eq!(k.rules[&0].state, abi::RULE_PAUSED);
    assert_eq!(k.config.hooks, 0);
    t.set_paused(&mut k, a, false).unwrap();
    assert_eq!(k.rules[&0].state, abi::RULE_ACTIVE);
    assert_eq!(k.attached, vec![abi::hook::DROP]);
}

#[test]
fn prechecks_follow_live_rule_changes() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    let drop = abi::hook::DROP as usize;
    let a = t.add(&mut k, plan("on drop where dport == 443")).unwrap();
    assert_eq!(k.config.guards[drop].field, u32::from(abi::field::DPORT));
    assert_eq!(
        (k.config.guards[drop].lo[0], k.config.guards[drop].hi[0]),
        (443, 443)
    );
    let b = t.add(&mut k, plan("on drop where ifindex == 3")).unwrap();
    assert_eq!(k.config.guards[drop].field, 0, "rule {b} needs no port");
    t.set_paused(&mut k, b, true).unwrap();
    assert_eq!(k.config.guards[drop].field, u32::from(abi::field::DPORT));
    t.remove(&mut k, a).unwrap();
    assert_eq!(
        k.config.guards[drop].field, 0,
        "no active rule: no pre-check"
    );
}

#[test]
fn tracking_rules_keep_drop_and_free_attached_to_clean_the_track_map() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    let id = t
        .add(&mut k, plan("on recv where dport == 443 track"))
        .unwrap();
    assert_eq!(
        k.attached,
        vec![abi::hook::DROP, abi::hook::FREE, abi::hook::RECV]
    );
    t.remove(&mut k, id).unwrap();
    assert!(k.attached.is_empty());
}

#[test]
fn tracepoint_triggers_share_a_slot_per_tracepoint() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    let a = t
        .add(&mut k, plan("on tp skb:kfree_skb where dport == 1"))
        .unwrap();
    let b = t
        .add(&mut k, plan("on tp skb:kfree_skb, tp net:netif_rx"))
        .unwrap();
    assert_eq!(k.log, ["tp 0 skb:kfree_skb", "tp 1 net:netif_rx"]);
    assert_eq!(k.rules[&0].hooks, 1 << abi::hook::TP0);
    assert_eq!(
        k.rules[&1].hooks,
        1 << abi::hook::TP0 | 1 << (abi::hook::TP0 + 1)
    );
    assert_eq!(t.hook_label(abi::hook::TP0 + 1), "tp net:netif_rx");
    t.remove(&mut k, b).unwrap();
    assert_eq!(k.attached, vec![abi::hook::TP0]);
    t.remove(&mut k, a).unwrap();
    assert!(k.attached.is_empty());
    let c = t.add(&mut k, plan("on tp net:netif_rx")).unwrap();
    assert_eq!(c, 3);
    assert_eq!(
        k.rules[&0].hooks,
        1 << abi::hook::TP0,
        "freed slots are reused"
    );
}

#[test]
fn function_triggers_attach_the_union_and_mask_each_rule() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    t.set_functions(catalog());
    let a = t
        .add(&mut k, plan("on func ip_rcv* where port 443"))
        .unwrap();
    assert_eq!(k.funcs, [1024, 1025], "ip_rcv, ip_rcv_core");
    assert_eq!(k.config.hooks, 1 << abi::hook::FUNC);
    let b = t.add(&mut k, plan("on any")).unwrap();
    assert_eq!(
        k.log.last().unwrap(),
        "attach 1 functions",
        "only the new one"
    );
    assert_eq!(
        t.func_status().skipped,
        [("ip_refused".into(), "refused".into())]
    );
    assert_eq!(k.func_rules[&1024], 0b11, "ip_rcv serves both rules");
    assert_eq!(k.func_rules[&1027], 0b10, "tcp_v4_rcv only `any`");
    t.remove(&mut k, b).unwrap();
    assert_eq!(k.funcs, [1024, 1025], "tcp_v4_rcv is detached");
    assert_eq!(k.func_rules[&1027], 0);
    assert_eq!(k.func_rules[&1024], 0b01);
    t.set_paused(&mut k, a, true).unwrap();
    assert!(k.funcs.is_empty());
    assert_eq!(k.config.hooks, 0);
}

#[test]
fn a_function_trigger_that_selects_nothing_is_refused() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    t.set_functions(catalog());
    let err = t.add(&mut k, plan("on func nosuch_*")).unwrap_err();
    assert!(
        matches!(err, RulesError::Table(RuleTableError::NoFunctions { .. })),
        "{err}"
    );
    assert!(t.ids().is_empty());
}

#[test]
fn tracking_asks_for_clone_tracking_once() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    t.add(&mut k, plan("on recv where dport == 443 track"))
        .unwrap();
    t.add(&mut k, plan("on drop track")).unwrap();
    assert_eq!(k.log.iter().filter(|l| *l == "clone tracking").count(), 1);
}

#[test]
fn a_rule_whose_probe_is_refused_leaves_nothing_behind() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    k.refuse_attach = true;
    assert!(t.add(&mut k, plan("on tp sched:sched_switch")).is_err());
    assert!(t.ids().is_empty());
    assert!(k.rules.is_empty() && k.attached.is_empty());
    assert_eq!(
        t.tracepoint_of(abi::hook::TP0),
        None,
        "the tp slot is free again"
    );
    let id = t.add(&mut k, plan("on drop")).unwrap();
    assert_eq!(id, 1, "a refused rule uses up no number");
    assert_eq!(k.log, ["attach 0"], "nothing retries the refused probe");
}

#[test]
fn ids_are_never_reused_but_slots_are() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    let first = t.add(&mut k, plan("on drop")).unwrap();
    t.remove(&mut k, first).unwrap();
    let second = t.add(&mut k, plan("on free")).unwrap();
    assert_eq!(second, 2);
    assert_eq!(t.by_slot(0).map(|r| r.id), Some(2));
    assert!(matches!(
        t.remove(&mut k, 1),
        Err(RulesError::Table(RuleTableError::NoSuchRule { id: 1 }))
    ));
}

#[test]
fn a_full_table_is_refused_with_its_size() {
    let mut k = FakeKernel::default();
    let mut t = RuleTable::new(4096);
    for _ in 0..abi::MAX_RULES {
        t.add(&mut k, plan("on drop")).unwrap();
    }
    assert!(matches!(
        t.add(&mut k, plan("on drop")),
        Err(RulesError::Table(RuleTableError::Full {
            max: abi::MAX_RULES
        }))
    ));
}
