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

/// A reply to a slash command.
pub fn to_reply(view: &View) -> poise::CreateReply {
    poise::CreateReply::default()
        .content(&view.content)
        .ephemeral(view.ephemeral)
        .components(components(view))
}

/// A message answering a component interaction (a new message, or the updated one).
pub fn to_message(view: &View) -> serenity::CreateInteractionResponseMessage {
    serenity::CreateInteractionResponseMessage::new()
        .content(&view.content)
        .ephemeral(view.ephemeral)
        .components(components(view))
}
