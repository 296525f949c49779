//! `--html FILE`: one self-contained page (no outside resources) with each
//! packet's path as a timeline: a box per function or hook, the time
//! between them, the drop marked in red, and its reason, location and
//! stack shown on hover. The data sit in the page as JSON; a small script
//! draws them, and marks the body `data-rendered` with the number of paths
//! drawn (what the browser test looks for).

use super::paths::{self, PacketPath};
use crate::event::Event;
use crate::output::Names;
use serde_json::{json, Value};

/// The page for `paths` over `events`; `stacks[i]` is event i's stack.
pub fn page(
    title: &str,
    paths: &[PacketPath],
    events: &[&Event],
    stacks: &[Option<&[String]>],
    names: &Names,
) -> String {
    let data: Vec<Value> = paths
        .iter()
        .map(|p| {
            let mut v = paths::to_json(p, events, names);
            for (step, i) in v["steps"]
                .as_array_mut()
                .into_iter()
                .flatten()
                .zip(&p.steps)
            {
                step["text"] = json!(names.func_text(events[*i]));
                step["stack"] = json!(stacks.get(*i).copied().flatten());
            }
            v
        })
        .collect();
    // `</` would end the script element early; JSON allows `<\/`.
    let json = serde_json::to_string(&data)
        .unwrap_or_default()
        .replace("</", "<\\/");
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\
         <h1>{title}</h1><p class=\"note\">One row per packet (skb). Hover a step for its \
         device, namespace, reason and stack.</p><div id=\"paths\"></div>\n\
         <script type=\"application/json\" id=\"data\">{json}</script>\n<script>{SCRIPT}</script>\
         </body></html>\n"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.3em}.note{color:#666}\
.path{margin:1em 0;padding:.6em;border:1px solid #ddd;border-radius:6px}\
.head{font-family:monospace;margin-bottom:.5em}.end-drop{color:#b00;font-weight:bold}\
.line{display:flex;flex-wrap:wrap;align-items:center;gap:2px}\
.step{position:relative;padding:4px 8px;border-radius:4px;background:#e8f0fe;font-family:monospace;cursor:default}\
.step.drop{background:#c62828;color:#fff}\
.gap{color:#888;font-size:12px;padding:0 4px}\
.tip{display:none;position:absolute;top:100%;left:0;z-index:9;min-width:22em;background:#fff;color:#222;\
border:1px solid #999;padding:6px;white-space:pre;font-size:12px;box-shadow:2px 2px 6px #0003}\
.step:hover .tip{display:block}";

const SCRIPT: &str = r#"
(function () {
  const data = JSON.parse(document.getElementById('data').textContent);
  const root = document.getElementById('paths');
  const span = ns => ns < 1e3 ? ns + 'ns' : ns < 1e6 ? (ns / 1e3).toFixed(1) + 'us'
    : ns < 1e9 ? (ns / 1e6).toFixed(1) + 'ms' : (ns / 1e9).toFixed(1) + 's';
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  for (const p of data) {
    const box = el('div', 'path');
    const head = el('div', 'head', p.skb + '  ' + p.tuple + '  ' + p.steps.length + ' steps in ' + span(p.duration_ns) + '  ');
    head.appendChild(el('span', 'end-' + p.end, p.end === 'drop' ? 'dropped: ' + p.reason : p.end));
    box.appendChild(head);
    const line = el('div', 'line');
    p.steps.forEach((s, i) => {
      if (i > 0) line.appendChild(el('span', 'gap', '→ +' + span(s.dt_ns) + ' →'));
      const step = el('span', s.drop ? 'step drop' : 'step', s.text);
      let tip = (s.ifname || '-') + ':' + s.ifindex + '  netns ' + s.netns;
      if (s.drop) tip += '\nreason: ' + p.reason + (p.location ? '\nat ' + p.location : '');
      if (s.stack) tip += '\n\n' + s.stack.join('\n');
      step.appendChild(el('div', 'tip', tip));
      line.appendChild(step);
    });
    box.appendChild(line);
    root.appendChild(box);
  }
  document.body.dataset.rendered = String(data.length);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_data_and_no_outside_resource() {
        let names = Names::default();
        let mut ev = crate::testing::tcp_drop(vec![1]);
        ev.meta.ifname = crate::testing::name16(b"x</script>");
        let events = [&ev];
        let groups = paths::group(&events, &names);
        let stack = vec!["nf_hook_slow+0x10".to_string()];
        let html = page("drops <1>", &groups, &events, &[Some(&stack)], &names);
        assert!(html.contains("<title>drops &lt;1&gt;</title>"));
        assert!(html.contains("nf_hook_slow+0x10") && html.contains("x<\\/script>"));
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "the data cannot close its element"
        );
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="));
    }
}
