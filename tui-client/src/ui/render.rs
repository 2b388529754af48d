//! `render`: draws the [`App`] as it is. A pure function of the state.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_segmentation::UnicodeSegmentation;

use super::app::{App, Connection, room_label};
use super::keys::KeyAction;
use super::layout::{Areas, MessageRows, message_height};
use super::timeline::Delivery;
use super::wrap::display_width;

/// Draws the whole chat.
pub fn render(app: &App, frame: &mut Frame) {
    let areas = Areas::of(frame.area());
    render_rooms(app, frame, areas.rooms);
    render_messages(app, frame, areas.messages);
    render_input(app, frame, areas.input);
    render_status(app, frame, areas.status);
    if app.show_help {
        render_help(app, frame, frame.area());
    }
}

fn render_rooms(app: &App, frame: &mut Frame, area: Rect) {
    if area.width == 0 {
        return;
    }
    let theme = &app.settings.theme;
    let lines: Vec<Line> = app
        .rooms
        .iter()
        .enumerate()
        .map(|(index, room)| {
            let active = index == app.active;
            let marker = if active { "▶ " } else { "  " };
            let mut style = Style::new();
            if active {
                style = style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            let mut spans = vec![Span::styled(format!("{marker}{}", room.label()), style)];
            if room.unread > 0 {
                spans.push(Span::styled(
                    format!(" ({})", room.unread),
                    Style::new().fg(theme.unread),
                ));
            }
            if room.mentioned {
                spans.push(Span::styled(
                    " @",
                    Style::new().fg(theme.mention).add_modifier(Modifier::BOLD),
                ));
            }
            Line::from(spans)
        })
        .collect();
    let block = Block::new()
        .borders(Borders::RIGHT)
        .title(" rooms ")
        .border_style(Style::new().fg(theme.muted));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// One row of the message pane.
struct PaneRow<'a> {
    rows: std::rc::Rc<MessageRows<'a>>,
    row: usize,
    own: bool,
    mention: bool,
    delivery: Delivery,
}

fn render_messages(app: &App, frame: &mut Frame, area: Rect) {
    let room = app.active_room();
    let width = usize::from(area.width);
    let height = usize::from(area.height);
    if width == 0 || height == 0 {
        return;
    }
    // Count rows from the newest message back with the heights remembered
    // per message, until the view is covered: only the messages on screen
    // are laid out, however far back the view is scrolled.
    let entries = room.timeline.entries();
    let wanted = room.scroll + height;
    let mut counted = 0;
    let mut oldest = entries.len();
    while oldest > 0 && counted < wanted {
        oldest -= 1;
        counted += message_height(&entries[oldest], width);
    }
    // Scrolled back to the oldest row counted: one row above it says
    // whether more is coming.
    let at_top = room.scroll > 0 && room.scroll + height > counted;
    let rows_for_messages = if at_top { height - 1 } else { height };
    let scroll = room.scroll.min(counted.saturating_sub(rows_for_messages));
    // Rows of the view, newest first, counted from the bottom.
    let view = scroll..scroll + rows_for_messages;
    let mut from_bottom: Vec<PaneRow> = Vec::with_capacity(rows_for_messages);
    let mut below = 0;
    for entry in entries[oldest..].iter().rev() {
        if below >= view.end {
            break;
        }
        let rows_here = message_height(entry, width);
        if below + rows_here > view.start {
            let rows = std::rc::Rc::new(MessageRows::of(entry, width));
            let own = entry.message.user == app.user;
            let mention = !own && app.mentions_me(&entry.message.text);
            for row in (0..rows.rows.len()).rev() {
                let at = below + (rows.rows.len() - 1 - row);
                if view.contains(&at) {
                    from_bottom.push(PaneRow {
                        rows: rows.clone(),
                        row,
                        own,
                        mention,
                        delivery: entry.delivery,
                    });
                }
            }
        }
        below += rows_here;
    }
    let mut lines: Vec<Line> = from_bottom
        .iter()
        .rev()
        .map(|r| pane_line(app, r))
        .collect();
    let muted = Style::new().fg(app.settings.theme.muted);
    if room.timeline.is_empty() {
        let hint = if room.loading_latest {
            "loading history…"
        } else {
            "no messages yet"
        };
        lines.push(Line::styled(hint, muted));
    } else if at_top {
        let hint = if room.loading_older {
            "loading older messages…"
        } else if room.timeline.has_older {
            "scroll up for older messages"
        } else {
            "beginning of the room"
        };
        lines.insert(0, Line::styled(hint, muted));
    }
    // Rows fill from the bottom, like a chat.
    let top_gap = height.saturating_sub(lines.len());
    let pane = Rect::new(
        area.x,
        area.y + top_gap as u16,
        area.width,
        (height - top_gap) as u16,
    );
    frame.render_widget(Paragraph::new(lines), pane);
}

fn pane_line<'a>(app: &App, pane_row: &'a PaneRow<'a>) -> Line<'a> {
    let theme = &app.settings.theme;
    let rows = &pane_row.rows;
    let range = rows.rows[pane_row.row].clone();
    let mut text_style = Style::new();
    if pane_row.own {
        text_style = text_style.fg(theme.own);
    } else if pane_row.mention {
        text_style = text_style.fg(theme.mention).add_modifier(Modifier::BOLD);
    }
    match pane_row.delivery {
        Delivery::Delivered => {}
        Delivery::Pending => text_style = text_style.add_modifier(Modifier::DIM),
        Delivery::Refused => {
            text_style = text_style
                .fg(theme.error)
                .add_modifier(Modifier::CROSSED_OUT)
        }
    }
    let text = Span::styled(&rows.text[range], text_style);
    if pane_row.row > 0 {
        return Line::from(vec![Span::raw(" ".repeat(rows.indent)), text]);
    }
    let name_style = if pane_row.own {
        Style::new().fg(theme.own).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
            .fg(theme.name_color(rows.name))
            .add_modifier(Modifier::BOLD)
    };
    let time = Span::styled(format!("{} ", rows.time), Style::new().fg(theme.muted));
    if rows.is_action {
        Line::from(vec![
            time,
            Span::styled("* ", name_style),
            Span::styled(rows.name, name_style),
            Span::raw(" "),
            text,
        ])
    } else {
        Line::from(vec![
            time,
            Span::styled(rows.name, name_style),
            Span::raw(": "),
            text,
        ])
    }
}

fn render_input(app: &App, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let theme = &app.settings.theme;
    if app.input.value().is_empty() && !app.can_post_here() {
        let reason = if app.permissions.can_post {
            "only admins may post in the admin channel; /join, /leave, /help, /quit work"
        } else {
            "read-only: you may not post (ask an admin for the 'user' role); /join, /leave, /help, /quit work"
        };
        frame.render_widget(
            Paragraph::new(Line::styled(reason, Style::new().fg(theme.error))),
            area,
        );
        frame.set_cursor_position(Position::new(area.x, area.y));
        return;
    }
    let prompt = "> ";
    let available = usize::from(area.width).saturating_sub(prompt.len() + 1);
    let (visible, cursor_x) = input_window(app.input.value(), app.input.cursor(), available);
    let line = Line::from(vec![
        Span::styled(
            prompt,
            Style::new().fg(theme.own).add_modifier(Modifier::BOLD),
        ),
        Span::raw(visible),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area.x + (prompt.len() + cursor_x) as u16;
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

/// The part of the input line that fits in `available` cells with the
/// cursor (a character index) in view, and the cursor's column in it.
/// Pasted newlines are shown as ⏎ and tabs as a space, so a multi-line
/// message stays on one input row and every cell is accounted for.
///
/// Each grapheme is measured once: the window is found by walking back
/// from the cursor, then forward, so a long line costs linear time per
/// frame.
fn input_window(value: &str, cursor: usize, available: usize) -> (String, usize) {
    let cursor_byte = value
        .char_indices()
        .nth(cursor)
        .map_or(value.len(), |(at, _)| at);
    let (before, after) = value.split_at(cursor_byte);
    let mut start = before.len();
    let mut cursor_x = 0;
    for (at, grapheme) in before.grapheme_indices(true).rev() {
        let w = display_width(grapheme);
        if cursor_x + w > available {
            break;
        }
        cursor_x += w;
        start = at;
    }
    let mut end = 0;
    let mut used = cursor_x;
    for (at, grapheme) in after.grapheme_indices(true) {
        let w = display_width(grapheme);
        if used + w > available {
            break;
        }
        used += w;
        end = at + grapheme.len();
    }
    let visible = value[start..cursor_byte + end]
        .chars()
        .map(|c| match c {
            '\n' => '⏎',
            '\t' => ' ',
            c => c,
        })
        .collect();
    (visible, cursor_x)
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let theme = &app.settings.theme;
    let base = Style::new().bg(theme.status_bg).fg(Color::White);
    let (dot, state, dot_color) = match &app.connection {
        Connection::Connected => ("●", "connected".to_owned(), Color::LightGreen),
        Connection::Connecting => ("○", "connecting…".to_owned(), Color::Yellow),
        Connection::Reconnecting { reason } => {
            ("○", format!("reconnecting ({reason})"), Color::LightRed)
        }
    };
    let roles = if app.roles.is_empty() {
        "read-only".to_owned()
    } else {
        app.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut spans = vec![
        Span::styled(format!(" {dot} "), base.fg(dot_color)),
        Span::styled(state, base),
        Span::styled(" │ ", base),
        Span::styled(
            format!("{} [{roles}]", app.user),
            base.add_modifier(Modifier::BOLD),
        ),
        Span::styled(" │ ", base),
        Span::styled(room_label(&app.active_room().name), base),
    ];
    if !app.outbox.is_empty() {
        spans.push(Span::styled(
            format!(" │ {} queued", app.outbox.len()),
            base,
        ));
    }
    if app.active_room().scroll > 0 {
        spans.push(Span::styled(" │ scrolled (Esc: newest)", base));
    }
    match &app.notice {
        Some(notice) => {
            let style = if notice.is_error {
                base.fg(theme.error)
                    .bg(Color::Black)
                    .add_modifier(Modifier::BOLD)
            } else {
                base
            };
            spans.push(Span::styled(" │ ", base));
            spans.push(Span::styled(notice.text.clone(), style));
        }
        None => spans.push(Span::styled(" │ F1: help", base)),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}

/// Every key and command, as the help overlay lists them.
pub fn help_lines(app: &App) -> Vec<String> {
    let mut lines = Vec::new();
    for (action, _, what) in KeyAction::ALL {
        let keys = app.settings.keys.keys_for(action).join(", ");
        lines.push(format!("{keys:>22}  {what}"));
    }
    for (keys, what) in [
        ("Alt-1 … Alt-9", "go to room 1 … 9"),
        ("Mouse wheel", "scroll"),
        ("Esc", "jump to the newest message"),
        ("←/→ Backspace Del", "edit the line"),
        ("/join <room>", "join a room (admin: /join admin)"),
        ("/leave [room]", "leave the room shown, or the one named"),
        ("/me <text>", "say what you do"),
        ("/help", "this help"),
        ("/quit", "quit"),
    ] {
        lines.push(format!("{keys:>22}  {what}"));
    }
    lines
}

fn render_help(app: &App, frame: &mut Frame, screen: Rect) {
    let lines = help_lines(app);
    let width = lines
        .iter()
        .map(|l| display_width(l))
        .max()
        .unwrap_or(20)
        .saturating_add(4)
        .min(usize::from(screen.width)) as u16;
    let height = (lines.len() as u16 + 2).min(screen.height);
    let area = Rect::new(
        screen.x + (screen.width - width) / 2,
        screen.y + (screen.height - height) / 2,
        width,
        height,
    );
    let block = Block::bordered().title(" keys — any key closes ");
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines.into_iter().map(Line::from).collect::<Vec<_>>()).block(block),
        area,
    );
}
