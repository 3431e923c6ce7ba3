//! Turns plain [`View`]s into Discord's message JSON: the one place that knows both.
//!
//! Every message tastebud sends passes through [`message`], which keeps it within Discord's
//! documented limits ("Message Resource", "Component Reference"): content is clipped to 2,000
//! characters, at most five rows of at most five buttons, at most 25 options in a select menu,
//! labels and descriptions clipped to their lengths. Views try to fit; this is the guarantee.

use serde_json::{Value, json};

use super::rest::Body;
use super::views::{MAX_CONTENT, Row, Style, View, clip};

/// Action rows in one message.
pub const MAX_ROWS: usize = 5;
/// Buttons in one action row.
pub const MAX_BUTTONS: usize = 5;
/// Options in one select menu.
pub const MAX_OPTIONS: usize = 25;
/// Characters of a button label.
const MAX_LABEL: usize = 80;
/// Characters of a select option's label, value and description.
const MAX_OPTION_TEXT: usize = 100;
/// Characters of a select menu's placeholder.
const MAX_PLACEHOLDER: usize = 150;
/// The `EPHEMERAL` message flag.
const EPHEMERAL: u64 = 1 << 6;

fn style(s: Style) -> u8 {
    match s {
        Style::Primary => 1,
        Style::Secondary => 2,
        Style::Success => 3,
        Style::Danger => 4,
    }
}

fn components(view: &View) -> Value {
    let rows: Vec<Value> = view
        .rows
        .iter()
        .take(MAX_ROWS)
        .map(|row| {
            let inner: Vec<Value> = match row {
                Row::Buttons(buttons) => buttons
                    .iter()
                    .take(MAX_BUTTONS)
                    .map(|b| {
                        json!({"type": 2, "style": style(b.style), "custom_id": b.id,
                               "label": clip(&b.label, MAX_LABEL), "disabled": b.disabled})
                    })
                    .collect(),
                Row::Select(s) => {
                    let options: Vec<Value> = s
                        .options
                        .iter()
                        .take(MAX_OPTIONS)
                        .map(|o| {
                            let mut option = json!({
                                "label": clip(&o.label, MAX_OPTION_TEXT),
                                "value": o.value, "default": o.selected});
                            if let Some(d) = &o.description {
                                option["description"] = json!(clip(d, MAX_OPTION_TEXT));
                            }
                            option
                        })
                        .collect();
                    let most = options.len().max(1) as u8;
                    vec![json!({"type": 3, "custom_id": s.id,
                                "placeholder": clip(&s.placeholder, MAX_PLACEHOLDER),
                                "min_values": s.min.min(most), "max_values": s.max.clamp(1, most),
                                "options": options})]
                }
            };
            json!({"type": 1, "components": inner})
        })
        .collect();
    Value::Array(rows)
}

/// Only the view's `ping` user may be notified; "@everyone", roles and other users in the text
/// stay plain text.
fn mentions(view: &View) -> Value {
    let users: Vec<String> = view
        .ping
        .filter(|u| u.0 != 0)
        .map(|u| u.0.to_string())
        .into_iter()
        .collect();
    json!({"parse": [], "users": users, "roles": []})
}

/// The message object of `view`. `new` for a new message (it may be ephemeral); an edit can't
/// change that, and its `attachments` replace the old files (none: the old ones go).
pub fn message(view: &View, new: bool) -> Value {
    let mut out = json!({
        "content": clip(&view.content, MAX_CONTENT),
        "components": components(view),
        "allowed_mentions": mentions(view),
    });
    if new && view.ephemeral {
        out["flags"] = json!(EPHEMERAL);
    }
    let attachments: Vec<Value> = view
        .files
        .iter()
        .enumerate()
        .map(|(n, f)| json!({"id": n, "filename": f.name}))
        .collect();
    if !new || !attachments.is_empty() {
        out["attachments"] = Value::Array(attachments);
    }
    out
}

/// The request body carrying `payload` with the view's files, if it has any.
pub fn body(view: &View, payload: Value) -> Body {
    if view.files.is_empty() {
        Body::Json(payload)
    } else {
        let files = view
            .files
            .iter()
            .map(|f| (f.name.clone(), f.bytes.clone()))
            .collect();
        Body::Files(payload, files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::views::{Button, Select, SelectOption};
    use crate::domain::UserId;

    #[test]
    fn only_the_views_ping_user_can_be_notified() {
        let mut view = View::public("**@everyone <@&5> <@7>** — <@9>");
        view.ping = Some(UserId(9));
        assert_eq!(
            message(&view, true)["allowed_mentions"],
            json!({"parse": [], "users": ["9"], "roles": []})
        );
        assert_eq!(
            message(&View::private("@here"), false)["allowed_mentions"],
            json!({"parse": [], "users": [], "roles": []})
        );
    }

    #[test]
    fn every_message_is_kept_within_discords_limits() {
        let button = |n: usize| Button {
            id: format!("b{n}"),
            label: "L".repeat(200),
            style: Style::Primary,
            disabled: false,
        };
        let mut view = View::private("x".repeat(5000));
        for _ in 0..6 {
            view.rows.push(Row::Buttons((0..7).map(button).collect()));
        }
        view.rows[1] = Row::Select(Select {
            id: "s".into(),
            placeholder: "p".repeat(300),
            options: (0..40)
                .map(|n| SelectOption {
                    label: "o".repeat(150),
                    value: n.to_string(),
                    description: Some("d".repeat(150)),
                    selected: false,
                })
                .collect(),
            min: 0,
            max: 40,
        });
        let sent = message(&view, true);
        assert_eq!(sent["content"].as_str().unwrap().chars().count(), 2000);
        let rows = sent["components"].as_array().unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
        let label = rows[0]["components"][0]["label"].as_str().unwrap();
        assert_eq!(label.chars().count(), 80);
        let select = &rows[1]["components"][0];
        assert_eq!(select["options"].as_array().unwrap().len(), 25);
        assert_eq!(select["max_values"], 25);
        assert_eq!(select["placeholder"].as_str().unwrap().chars().count(), 150);
        let option = &select["options"][0];
        assert_eq!(option["label"].as_str().unwrap().chars().count(), 100);
        assert_eq!(option["description"].as_str().unwrap().chars().count(), 100);
        assert_eq!(sent["flags"], 64);
    }

    #[test]
    fn an_edit_always_says_which_files_it_keeps() {
        let edit = message(&View::public("done"), false);
        assert_eq!(edit["attachments"], json!([]), "old files are removed");
        assert!(edit.get("flags").is_none());
        let new = message(&View::public("hello"), true);
        assert!(new.get("attachments").is_none());
    }
}
