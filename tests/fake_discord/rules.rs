//! Discord's documented limits on what a bot sends, each beside the page of discord-api-docs
//! (`developers/…` in github.com/discord/discord-api-docs) it follows, and the JSON error
//! bodies Discord answers with when one is broken.

use serde_json::{Map, Value, json};

use super::Upload;

// Permission bits, from `developers/topics/permissions.mdx` ("Bitwise Permission Flags").
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const ATTACH_FILES: u64 = 1 << 15;
pub const MENTION_EVERYONE: u64 = 1 << 17;
pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;

/// `app_permissions` in DMs with the bot user: `developers/interactions/receiving-and-responding.mdx`
/// (Interaction Structure, note \*\*\*): `ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE`, and
/// `USE_EXTERNAL_EMOJIS` for DMs with the app's bot user.
pub const BOT_DM_PERMISSIONS: u64 =
    ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS;
/// `app_permissions` in (group) DMs with other users: same page and note as
/// [`BOT_DM_PERMISSIONS`], without `USE_EXTERNAL_EMOJIS`.
pub const PRIVATE_CHANNEL_PERMISSIONS: u64 = ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE;
/// `app_permissions` of an app used in a server it is not a member of (installed to the user
/// only): `developers/change-log.mdx`, "Calculated Permissions in Interaction Payloads"
/// (2022-06-29): the permissions of `@everyone`, limited to those usable in interaction
/// responses (`ATTACH_FILES`, `EMBED_LINKS`, `MENTION_EVERYONE`, `USE_EXTERNAL_EMOJIS`). The
/// fake's `@everyone` has all four.
pub const USER_INSTALL_GUILD_PERMISSIONS: u64 =
    ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS;

/// Discord's default upload limit, sent as every interaction's `attachment_size_limit`:
/// `developers/reference.mdx`, "Uploading Files": "The file upload size limit applies to each
/// file in a request. The default limit is `10 MiB`", and `attachment_size_limit` is the
/// maximum of the user's and the server's limits.
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;
/// `developers/resources/message.mdx`, Create Message, "Limitations": "The maximum request size
/// when sending a message is **25 MiB**".
pub const MAX_REQUEST_BYTES: u64 = 25 * 1024 * 1024;
/// `developers/resources/message.mdx`, Create Message params: `content` "up to 2000 characters".
pub const MAX_CONTENT_CHARS: usize = 2000;

/// A refusal: the HTTP status, Discord's JSON body, and the rule broken (for the violation).
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub body: Value,
    pub rule: String,
}

impl Refusal {
    pub fn new(status: u16, code: u64, message: &str, rule: impl Into<String>) -> Refusal {
        Refusal {
            status,
            body: json!({"code": code, "message": message}),
            rule: rule.into(),
        }
    }
}

/// Field errors of an `Invalid Form Body`, collected by path.
#[derive(Default)]
pub struct FormErrors {
    errors: Vec<(Vec<String>, &'static str, String, String)>,
}

impl FormErrors {
    /// A broken rule at `path` (dotted: `data.components.0.components.5`), with Discord's error
    /// code, its message, and the rule with its doc page for the violation.
    fn add(&mut self, path: &str, code: &'static str, message: String, rule: String) {
        let path = path
            .split('.')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        self.errors.push((path, code, message, rule));
    }

    fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The 400 answer: `{"code": 50035, "message": "Invalid Form Body", "errors": {…}}`, nested
    /// the way `developers/reference.mdx` ("Error Messages") shows, with `_errors` at each leaf.
    fn into_refusal(self) -> Option<Refusal> {
        if self.errors.is_empty() {
            return None;
        }
        let mut errors = Value::Object(Map::new());
        let mut rules = Vec::new();
        for (path, code, message, rule) in self.errors {
            let mut at = &mut errors;
            for key in &path {
                at = at
                    .as_object_mut()
                    .expect("an object")
                    .entry(key.clone())
                    .or_insert_with(|| json!({}));
            }
            let list = at
                .as_object_mut()
                .expect("an object")
                .entry("_errors")
                .or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(json!({"code": code, "message": message}));
            }
            rules.push(format!("{}: {rule}", path.join(".")));
        }
        Some(Refusal {
            status: 400,
            body: json!({"code": 50035, "message": "Invalid Form Body", "errors": errors}),
            rule: rules.join("; "),
        })
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// A string no longer than `max` characters at `path`, if present.
fn max_len(errors: &mut FormErrors, v: &Value, path: &str, max: usize, page: &str) {
    if v.is_string() && chars(v) > max {
        errors.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {max} or fewer in length."),
            format!("{} characters, more than {max} ({page})", chars(v)),
        );
    }
}

/// A string of 1 to `max` characters at `path` (required).
fn bad_len(errors: &mut FormErrors, v: &Value, path: &str, max: usize, page: &str) {
    let n = chars(v);
    if !v.is_string() || n == 0 || n > max {
        errors.add(
            path,
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between 1 and {max} in length."),
            format!("{n} characters, not 1 to {max} ({page})"),
        );
    }
}

const MESSAGE_PAGE: &str = "developers/resources/message.mdx, Create Message";
const COMPONENTS_PAGE: &str = "developers/components/reference.mdx";
const EMBED_PAGE: &str = "developers/resources/message.mdx, Embed Limits";

/// Checks a message body the bot sends (a channel or DM message, an interaction callback's
/// `data`, a follow-up, an edit) against Discord's limits. `at` prefixes error paths
/// (`data.` for callbacks); `creating` adds the rules for new messages (not empty).
/// `size_limit` is the per-file limit (the interaction's `attachment_size_limit`, or Discord's
/// default for plain messages).
pub fn check_message(
    body: &Value,
    files: &[Upload],
    size_limit: u64,
    creating: bool,
    at: &str,
) -> Result<(), Refusal> {
    // Files first: Discord refuses an oversized body before it reads the form.
    for file in files {
        if file.bytes.len() as u64 > size_limit {
            return Err(Refusal::new(
                413,
                40005,
                "Request entity too large",
                format!(
                    "file {:?} is {} bytes, more than the attachment_size_limit of {size_limit} \
                     (developers/reference.mdx, Uploading Files: the limit applies to each file)",
                    file.filename,
                    file.bytes.len()
                ),
            ));
        }
    }
    let total: u64 = files.iter().map(|f| f.bytes.len() as u64).sum();
    if total > MAX_REQUEST_BYTES {
        return Err(Refusal::new(
            413,
            40005,
            "Request entity too large",
            format!(
                "files of {total} bytes in one message, more than 25 MiB ({MESSAGE_PAGE}, \
                 Limitations)"
            ),
        ));
    }
    let mut errors = FormErrors::default();
    let p = |field: &str| format!("{at}{field}");
    max_len(
        &mut errors,
        &body["content"],
        &p("content"),
        MAX_CONTENT_CHARS,
        MESSAGE_PAGE,
    );
    check_embeds(&mut errors, &body["embeds"], &p("embeds"));
    check_components(&mut errors, body, &p("components"));
    if creating {
        // `developers/topics/opcodes-and-status-codes.mdx`, JSON codes: 50006 "Cannot send an
        // empty message"; Create Message: one of content, embeds, sticker_ids, components,
        // files or poll is required.
        let empty = |k: &str| match &body[k] {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        if files.is_empty()
            && empty("content")
            && empty("embeds")
            && empty("components")
            && empty("sticker_ids")
            && body["poll"].is_null()
            && errors.is_empty()
        {
            return Err(Refusal::new(
                400,
                50006,
                "Cannot send an empty message",
                format!("a message with no content, embeds, components or files ({MESSAGE_PAGE})"),
            ));
        }
    }
    errors.into_refusal().map_or(Ok(()), Err)
}

/// `developers/resources/message.mdx`, Create Message: up to 10 embeds; "Embed Limits": title
/// 256, description 4096, 25 fields, field name 256, value 1024, footer 2048, author 256, and
/// 6000 characters in all embeds together.
fn check_embeds(errors: &mut FormErrors, embeds: &Value, path: &str) {
    let Some(list) = embeds.as_array() else {
        return;
    };
    if list.len() > 10 {
        errors.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.".into(),
            format!("{} embeds, more than 10 ({MESSAGE_PAGE})", list.len()),
        );
    }
    let mut total = 0;
    for (i, e) in list.iter().enumerate() {
        let at = |f: &str| format!("{path}.{i}.{f}");
        for (field, max) in [("title", 256), ("description", 4096)] {
            max_len(errors, &e[field], &at(field), max, EMBED_PAGE);
            total += chars(&e[field]);
        }
        max_len(
            errors,
            &e["footer"]["text"],
            &at("footer.text"),
            2048,
            EMBED_PAGE,
        );
        max_len(
            errors,
            &e["author"]["name"],
            &at("author.name"),
            256,
            EMBED_PAGE,
        );
        total += chars(&e["footer"]["text"]) + chars(&e["author"]["name"]);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            errors.add(
                &at("fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
                format!("{} embed fields, more than 25 ({EMBED_PAGE})", fields.len()),
            );
        }
        for (j, f) in fields.iter().enumerate() {
            max_len(
                errors,
                &f["name"],
                &at(&format!("fields.{j}.name")),
                256,
                EMBED_PAGE,
            );
            max_len(
                errors,
                &f["value"],
                &at(&format!("fields.{j}.value")),
                1024,
                EMBED_PAGE,
            );
            total += chars(&f["name"]) + chars(&f["value"]);
        }
    }
    if total > 6000 {
        errors.add(
            path,
            "MESSAGE_EMBEDS_TOO_LONG",
            "Embed size exceeds maximum size of 6000".into(),
            format!("{total} characters in embeds, more than 6000 ({EMBED_PAGE})"),
        );
    }
}

/// The legacy component rules (`developers/components/reference.mdx`): at most 5 action rows
/// at the top level ("Legacy Message Component Behavior"); an action row holds 1 to 5 buttons
/// or a single select ("Action Row"); `custom_id` 1-100 characters and unique in the message
/// ("Custom ID"); a button label at most 80 characters, a link button a `url` (max 512) and no
/// `custom_id` ("Button"); a string select 1-25 options, placeholder at most 150, option label,
/// value and description at most 100, `min_values`/`max_values` at most 25 ("String Select").
/// With the `IS_COMPONENTS_V2` flag, at most 40 components in all (top of the same page).
fn check_components(errors: &mut FormErrors, body: &Value, path: &str) {
    let Some(rows) = body["components"].as_array() else {
        return;
    };
    let v2 = body["flags"].as_u64().unwrap_or(0) & (1 << 15) != 0;
    let mut ids: Vec<String> = Vec::new();
    if v2 {
        let mut count = 0;
        count_components(&body["components"], &mut count);
        if count > 40 {
            errors.add(
                path,
                "BASE_TYPE_MAX_LENGTH",
                "Must be 40 or fewer in length.".into(),
                format!("{count} components, more than 40 ({COMPONENTS_PAGE})"),
            );
        }
        return;
    }
    if rows.len() > 5 {
        errors.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.".into(),
            format!(
                "{} action rows, more than 5 ({COMPONENTS_PAGE}, Legacy Message Component \
                 Behavior)",
                rows.len()
            ),
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let row_path = format!("{path}.{r}");
        if row["type"].as_u64() != Some(1) {
            errors.add(
                &format!("{row_path}.type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).".into(),
                format!("a top-level component that is not an action row ({COMPONENTS_PAGE})"),
            );
            continue;
        }
        let children = row["components"].as_array().cloned().unwrap_or_default();
        let selects = children
            .iter()
            .filter(|c| matches!(c["type"].as_u64(), Some(3 | 5 | 6 | 7 | 8)))
            .count();
        let buttons = children
            .iter()
            .filter(|c| c["type"].as_u64() == Some(2))
            .count();
        if children.is_empty() || buttons > 5 || (selects > 0 && children.len() > 1) {
            errors.add(
                &format!("{row_path}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.".into(),
                format!(
                    "an action row of {buttons} buttons and {selects} selects: a row holds 1 to \
                     5 buttons or one select alone ({COMPONENTS_PAGE}, Action Row)"
                ),
            );
        }
        for (c, child) in children.iter().enumerate() {
            let at = |f: &str| format!("{row_path}.components.{c}.{f}");
            let link = child["type"].as_u64() == Some(2) && child["style"].as_u64() == Some(5);
            if link {
                bad_len(errors, &child["url"], &at("url"), 512, COMPONENTS_PAGE);
            } else if child["style"].as_u64() != Some(6) {
                bad_len(
                    errors,
                    &child["custom_id"],
                    &at("custom_id"),
                    100,
                    COMPONENTS_PAGE,
                );
                if let Some(id) = child["custom_id"].as_str() {
                    if ids.iter().any(|seen| seen == id) {
                        errors.add(
                            &at("custom_id"),
                            "COMPONENT_CUSTOM_ID_DUPLICATED",
                            "Component custom id cannot be duplicated".into(),
                            format!(
                                "custom_id {id:?} used twice in one message ({COMPONENTS_PAGE}, \
                                 Custom ID)"
                            ),
                        );
                    }
                    ids.push(id.to_string());
                }
            }
            match child["type"].as_u64() {
                Some(2) => max_len(errors, &child["label"], &at("label"), 80, COMPONENTS_PAGE),
                Some(3 | 5 | 6 | 7 | 8) => {
                    max_len(
                        errors,
                        &child["placeholder"],
                        &at("placeholder"),
                        150,
                        COMPONENTS_PAGE,
                    );
                    for f in ["min_values", "max_values"] {
                        if child[f].as_u64().is_some_and(|n| n > 25) {
                            errors.add(
                                &at(f),
                                "NUMBER_TYPE_MAX",
                                "int value should be less than or equal to 25.".into(),
                                format!("{f} above 25 ({COMPONENTS_PAGE}, String Select)"),
                            );
                        }
                    }
                    if child["type"].as_u64() == Some(3) {
                        check_options(errors, child, &at("options"));
                    }
                }
                _ => {}
            }
        }
    }
}

fn check_options(errors: &mut FormErrors, select: &Value, path: &str) {
    let options = select["options"].as_array().cloned().unwrap_or_default();
    if options.is_empty() || options.len() > 25 {
        errors.add(
            path,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 25 in length.".into(),
            format!(
                "a select menu with {} options, not 1 to 25 ({COMPONENTS_PAGE}, String Select)",
                options.len()
            ),
        );
    }
    if let Some(max) = select["max_values"].as_u64()
        && max as usize > options.len()
        && !options.is_empty()
    {
        errors.add(
            &path.replace(".options", ".max_values"),
            "SELECT_COMPONENT_MAX_VALUES_TOO_HIGH",
            "max_values cannot exceed the number of options".into(),
            format!(
                "max_values {max} above the {} options ({COMPONENTS_PAGE})",
                options.len()
            ),
        );
    }
    for (o, option) in options.iter().enumerate() {
        let at = |f: &str| format!("{path}.{o}.{f}");
        bad_len(errors, &option["label"], &at("label"), 100, COMPONENTS_PAGE);
        bad_len(errors, &option["value"], &at("value"), 100, COMPONENTS_PAGE);
        max_len(
            errors,
            &option["description"],
            &at("description"),
            100,
            COMPONENTS_PAGE,
        );
    }
}

fn count_components(v: &Value, count: &mut usize) {
    for c in v.as_array().into_iter().flatten() {
        *count += 1;
        count_components(&c["components"], count);
        if c["accessory"].is_object() {
            *count += 1;
        }
    }
}

const COMMANDS_PAGE: &str = "developers/interactions/application-commands.mdx";

/// Whether `name` is a valid `CHAT_INPUT` command or option name: `developers/interactions/
/// application-commands.mdx`, "Application Command Naming": `^[-_'\p{L}\p{N}…]{1,32}$`, in
/// lowercase where a lowercase variant exists.
fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name.chars().all(|c| {
            (c.is_alphanumeric() || matches!(c, '-' | '_' | '\''))
                && c.to_lowercase().collect::<String>() == c.to_string()
        })
}

/// Checks a bulk upload of commands (`PUT …/commands`) the way Discord validates it:
/// `developers/interactions/application-commands.mdx`, "Application Command Structure" and
/// "Application Command Option Structure": names per "Application Command Naming", descriptions
/// 1-100 characters, at most 25 options and 25 choices, choice names 1-100 and string values
/// at most 100, `min_length` 0-6000 and `max_length` 1-6000, required options before optional
/// ones, unique names; "Slash Commands": at most 8000 characters of names, descriptions and
/// values per command; "Registering a Command": at most 100 global `CHAT_INPUT` commands.
pub fn check_commands(commands: &Value) -> Result<(), Refusal> {
    let Some(list) = commands.as_array() else {
        return Err(Refusal::new(
            400,
            50035,
            "Invalid Form Body",
            format!("the body of a bulk overwrite is not an array of commands ({COMMANDS_PAGE})"),
        ));
    };
    let mut errors = FormErrors::default();
    if list.len() > 100 {
        errors.add(
            "",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.".into(),
            format!("{} commands, more than 100 ({COMMANDS_PAGE})", list.len()),
        );
    }
    let mut names = Vec::new();
    for (i, command) in list.iter().enumerate() {
        let path = i.to_string();
        let kind = command["type"].as_u64().unwrap_or(1);
        let name = command["name"].as_str().unwrap_or("");
        if names.contains(&(kind, name)) {
            errors.add(
                &format!("{path}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                format!("Application command names must be unique ({name})"),
                format!("two commands named {name:?} ({COMMANDS_PAGE})"),
            );
        }
        names.push((kind, name));
        if kind == 1 {
            check_command_like(&mut errors, command, &path);
            let size = command_size(command);
            if size > 8000 {
                errors.add(
                    &path,
                    "APPLICATION_COMMAND_TOO_LARGE",
                    "Command exceeds maximum size (8000)".into(),
                    format!(
                        "/{name} has {size} characters of names, descriptions and values, more \
                         than 8000 ({COMMANDS_PAGE}, Slash Commands)"
                    ),
                );
            }
        }
    }
    errors.into_refusal().map_or(Ok(()), Err)
}

/// Name, description and options of a command or of an option (recursively).
fn check_command_like(errors: &mut FormErrors, c: &Value, path: &str) {
    let name = c["name"].as_str().unwrap_or("");
    if !valid_name(name) {
        errors.add(
            &format!("{path}.name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            format!("Command name is invalid ({name})"),
            format!("name {name:?} is not 1-32 lowercase letters, digits, - _ or ' ({COMMANDS_PAGE}, Application Command Naming)"),
        );
    }
    bad_len(
        errors,
        &c["description"],
        &format!("{path}.description"),
        100,
        COMMANDS_PAGE,
    );
    let options = c["options"].as_array().cloned().unwrap_or_default();
    if options.len() > 25 {
        errors.add(
            &format!("{path}.options"),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.".into(),
            format!("{} options, more than 25 ({COMMANDS_PAGE})", options.len()),
        );
    }
    let mut optional_seen = false;
    for (j, o) in options.iter().enumerate() {
        let at = format!("{path}.options.{j}");
        check_command_like(errors, o, &at);
        let kind = o["type"].as_u64().unwrap_or(0);
        if kind > 2 {
            let required = o["required"].as_bool().unwrap_or(false);
            if required && optional_seen {
                errors.add(
                    &format!("{at}.required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options".into(),
                    format!(
                        "required option {:?} after an optional one ({COMMANDS_PAGE})",
                        o["name"]
                    ),
                );
            }
            optional_seen |= !required;
        }
        let choices = o["choices"].as_array().cloned().unwrap_or_default();
        if choices.len() > 25 {
            errors.add(
                &format!("{at}.choices"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
                format!("{} choices, more than 25 ({COMMANDS_PAGE})", choices.len()),
            );
        }
        for (k, choice) in choices.iter().enumerate() {
            bad_len(
                errors,
                &choice["name"],
                &format!("{at}.choices.{k}.name"),
                100,
                COMMANDS_PAGE,
            );
            max_len(
                errors,
                &choice["value"],
                &format!("{at}.choices.{k}.value"),
                100,
                COMMANDS_PAGE,
            );
        }
        for (field, min) in [("min_length", 0), ("max_length", 1)] {
            if let Some(n) = o[field].as_i64()
                && !(min..=6000).contains(&n)
            {
                errors.add(
                    &format!("{at}.{field}"),
                    "NUMBER_TYPE_MAX",
                    format!("int value should be between {min} and 6000."),
                    format!("{field} {n} outside {min}-6000 ({COMMANDS_PAGE})"),
                );
            }
        }
    }
}

fn command_size(c: &Value) -> usize {
    let mut n = chars(&c["name"]) + chars(&c["description"]);
    for choice in c["choices"].as_array().into_iter().flatten() {
        n += chars(&choice["name"])
            + choice["value"]
                .to_string()
                .trim_matches('"')
                .chars()
                .count();
    }
    for o in c["options"].as_array().into_iter().flatten() {
        n += command_size(o);
    }
    n
}

/// The registered option called `name` among `options`.
pub fn find_option<'a>(options: &'a Value, name: &str) -> Option<&'a Value> {
    options
        .as_array()?
        .iter()
        .find(|o| o["name"].as_str() == Some(name))
}
