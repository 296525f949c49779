use super::*;

fn vocab() -> Vocabulary {
    let v = Vocabulary::fixed(
        &["NO_SOCKET", "NETFILTER_DROP", "NOMEM"],
        &["ip_rcv", "ip_rcv_core", "tcp_v4_rcv"],
    );
    v.set_rule_ids(vec![2, 5]);
    v
}

/// The words offered at the end of `line`, and where they start.
fn at_end(line: &str, v: &Vocabulary) -> (usize, Vec<String>) {
    match complete(line, line.len(), v) {
        Completion::Words { start, words } => (start, words),
        Completion::Path => panic!("path completion for {line:?}"),
    }
}

fn offered(line: &str) -> Vec<String> {
    at_end(line, &vocab()).1
}

#[test]
fn the_first_word_is_a_command_or_on() {
    let all = offered("");
    for w in ["on", "list", "del", "pause", "stats", "funcs", "quit"] {
        assert!(all.iter().any(|c| c == w), "{w} in {all:?}");
    }
    assert_eq!(offered("li"), ["list"]);
    assert_eq!(offered("O"), ["on"]);
}

#[test]
fn commands_complete_their_arguments() {
    assert_eq!(offered("del "), ["2", "5"]);
    assert_eq!(offered("pause "), ["2", "5", "all"]);
    assert_eq!(offered("resume a"), ["all"]);
    assert_eq!(complete("load ru", 7, &vocab()), Completion::Path);
    assert_eq!(complete("save ", 5, &vocab()), Completion::Path);
}

#[test]
fn triggers_then_where_and_actions() {
    assert_eq!(offered("on ").len(), TRIGGER_WORDS.len());
    assert_eq!(offered("on dr"), ["drop"]);
    assert_eq!(offered("ON drop, x"), ["xdp", "xmit"]);
    assert_eq!(offered("on t"), ["tc", "tp"]);
    let after = offered("on drop ");
    assert!(after.contains(&"where".to_string()) && after.contains(&"print".to_string()));
    assert_eq!(offered("on drop; on re"), ["recv"]);
    assert_eq!(offered("on drop; "), ["on"]);
}

#[test]
fn fields_and_primitives_in_a_filter() {
    assert_eq!(offered("on drop where dp"), ["dport"]);
    let all = offered("on drop where ");
    assert!(all.contains(&"reason".to_string()) && all.contains(&"host".to_string()));
    assert_eq!(offered("on drop where tcp and (sa"), ["saddr"]);
    assert_eq!(
        offered("on recv where src "),
        ["host", "net", "port", "portrange"]
    );
    assert_eq!(offered("on drop where dport i"), ["in"]);
    assert_eq!(offered("on drop where tcpflags "), ["has"]);
}

#[test]
fn drop_reasons_complete_in_any_case_and_with_the_prefix() {
    let v = vocab();
    let line = "on drop where reason == NETF";
    assert_eq!(
        at_end(line, &v),
        (line.len() - 4, vec!["NETFILTER_DROP".into()])
    );
    assert_eq!(offered("on drop where reason==netf"), ["NETFILTER_DROP"]);
    assert_eq!(
        offered("on drop where reason != SKB_DROP_REASON_NO_"),
        ["NO_SOCKET"]
    );
    assert_eq!(
        offered("on drop where reason == NO"),
        ["NOMEM", "NO_SOCKET"]
    );
    assert_eq!(
        offered("on drop where reason in {NO_SOCKET, NE"),
        ["NETFILTER_DROP"]
    );
}

#[test]
fn values_follow_the_field_being_compared() {
    assert_eq!(
        offered("on drop where dport == ht"),
        ["http", "http-alt", "https"]
    );
    assert_eq!(offered("on drop where tcp port ss"), ["ssh"]);
    assert_eq!(offered("on drop where proto == t"), ["tcp"]);
    assert_eq!(offered("on drop where family == ip"), ["ip4", "ip6"]);
    assert_eq!(offered("on drop where tcpflags has s"), ["syn"]);
    assert!(
        offered("on drop where len == ").is_empty(),
        "numbers have no names"
    );
}

#[test]
fn after_a_comparison_come_connectives_and_actions() {
    let after = offered("on drop where dport == 443 ");
    assert!(after.contains(&"and".to_string()) && after.contains(&"stack".to_string()));
    assert_eq!(offered("on drop where dport == 443 pr"), ["print"]);
    assert_eq!(offered("on drop count by re"), ["reason"]);
    assert_eq!(offered("on drop count by reason, ru"), ["rule"]);
    assert_eq!(offered("on drop stop "), ["after"]);
    assert_eq!(offered("on drop print st"), ["stack", "stop"]);
}

#[test]
fn functions_once_loaded() {
    let v = vocab();
    assert!(
        at_end("on func ip_r", &v).1.is_empty(),
        "not loaded yet: no stall"
    );
    v.functions().unwrap();
    assert_eq!(at_end("on func ip_r", &v).1, ["ip_rcv", "ip_rcv_core"]);
    assert_eq!(at_end("funcs tc", &v).1, ["tcp_v4_rcv"]);
    assert_eq!(at_end("on any where func == tcp", &v).1, ["tcp_v4_rcv"]);
}

#[test]
fn tokens_split_words_and_operators() {
    assert_eq!(
        tokens("reason==X&&!(a<=1)"),
        ["reason", "==", "X", "&&", "!", "(", "a", "<=", "1", ")"]
    );
}
