//! Turns plain [`View`]s into Discord's builders: the one place that knows both.

use poise::serenity_prelude as serenity;

use super::views::{Row, Style, View};

fn style(s: Style) -> serenity::ButtonStyle {
    match s {
        Style::Primary => serenity::ButtonStyle::Primary,
        Style::Secondary => serenity::ButtonStyle::Secondary,
        Style::Success => serenity::ButtonStyle::Success,
        Style::Danger => serenity::ButtonStyle::Danger,
    }
}

fn components(view: &View) -> Vec<serenity::CreateActionRow> {
    view.rows
        .iter()
        .map(|row| match row {
            Row::Buttons(buttons) => serenity::CreateActionRow::Buttons(
                buttons
                    .iter()
                    .map(|b| {
                        serenity::CreateButton::new(&b.id)
                            .label(&b.label)
                            .style(style(b.style))
                            .disabled(b.disabled)
                    })
                    .collect(),
            ),
            Row::Select(s) => {
                let options = s
                    .options
                    .iter()
                    .map(|o| {
                        let mut option = serenity::CreateSelectMenuOption::new(&o.label, &o.value)
                            .default_selection(o.selected);
                        if let Some(d) = &o.description {
                            option = option.description(d);
                        }
                        option
                    })
                    .collect();
                serenity::CreateActionRow::SelectMenu(
                    serenity::CreateSelectMenu::new(
                        &s.id,
                        serenity::CreateSelectMenuKind::String { options },
                    )
                    .placeholder(&s.placeholder)
                    .min_values(s.min)
                    .max_values(s.max),
                )
            }
        })
        .collect()
}

/// Only the view's `ping` user may be notified; "@everyone", roles and other users in the text
/// stay plain text.
fn mentions(view: &View) -> serenity::CreateAllowedMentions {
    let users = view
        .ping
        .filter(|u| u.0 != 0)
        .map(|u| serenity::UserId::new(u.0));
    serenity::CreateAllowedMentions::new().users(users)
}

fn files(view: &View) -> Vec<serenity::CreateAttachment> {
    view.files
        .iter()
        .map(|f| serenity::CreateAttachment::bytes(f.bytes.clone(), f.name.clone()))
        .collect()
}

/// A reply to a slash command.
pub fn to_reply(view: &View) -> poise::CreateReply {
    let mut reply = poise::CreateReply::default()
        .content(&view.content)
        .ephemeral(view.ephemeral)
        .components(components(view))
        .allowed_mentions(mentions(view));
    for file in files(view) {
        reply = reply.attachment(file);
    }
    reply
}

/// A message answering a component interaction (a new message, or the updated one, whose old
/// files the view's files replace).
pub fn to_message(view: &View) -> serenity::CreateInteractionResponseMessage {
    serenity::CreateInteractionResponseMessage::new()
        .content(&view.content)
        .ephemeral(view.ephemeral)
        .components(components(view))
        .allowed_mentions(mentions(view))
        .files(files(view))
}

/// An edit of an interaction's original response: its text, components and files all become
/// the view's (whether it is ephemeral can't change).
pub fn to_edit(view: &View) -> serenity::EditInteractionResponse {
    let attachments = files(view)
        .into_iter()
        .fold(serenity::EditAttachments::new(), |a, f| a.add(f));
    serenity::EditInteractionResponse::new()
        .content(&view.content)
        .components(components(view))
        .allowed_mentions(mentions(view))
        .attachments(attachments)
}

/// A further message answering an interaction.
pub fn to_followup(view: &View) -> serenity::CreateInteractionResponseFollowup {
    serenity::CreateInteractionResponseFollowup::new()
        .content(&view.content)
        .ephemeral(view.ephemeral)
        .components(components(view))
        .allowed_mentions(mentions(view))
        .files(files(view))
}

/// A plain channel message, for when an interaction's token has expired (never ephemeral).
pub fn to_channel_message(view: &View) -> serenity::CreateMessage {
    serenity::CreateMessage::new()
        .content(&view.content)
        .components(components(view))
        .allowed_mentions(mentions(view))
        .files(files(view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn only_the_views_ping_user_can_be_notified() {
        let mut view = View::public("**@everyone <@&5> <@7>** — <@9>");
        view.ping = Some(UserId(9));
        let sent = serde_json::to_value(to_followup(&view)).expect("serializes");
        assert_eq!(
            sent["allowed_mentions"],
            serde_json::json!({"parse": [], "users": ["9"], "roles": []})
        );
        let sent = serde_json::to_value(to_edit(&View::private("@here"))).expect("serializes");
        assert_eq!(
            sent["allowed_mentions"],
            serde_json::json!({"parse": [], "users": [], "roles": []})
        );
    }
}
