//! Rendering cost with 100,000 messages in a room and with a 4000-character
//! input line, against an empty room measured in the same run, plus resident memory and the time from
//! nothing to a first frame without any network.
//!
//! `cargo bench -p natschat-tui --bench render`

use std::hint::black_box;
use std::time::{Duration, Instant};

use natschat_proto::{ChatMessage, HistoryPage, HistoryRequest, StoredMessage};
use natschat_tui::ui::{Action, App, ChatSettings, render, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const MESSAGES: u64 = 100_000;
const FRAMES: u32 = 300;
const WIDTH: u16 = 160;
const HEIGHT: u16 = 50;

fn chat() -> App {
    let mut app = App::new(
        "alice",
        &["user".into()],
        Vec::new(),
        "bench".into(),
        ChatSettings::default(),
    );
    update(
        &mut app,
        Action::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    app
}

fn fill(app: &mut App) {
    let texts = [
        "short",
        "a somewhat longer line that will wrap on narrower terminals, with words and more words and then some",
        "日本語のテキストと絵文字 👋🎉 mixed with ASCII",
    ];
    let messages = (1..=MESSAGES)
        .map(|seq| StoredMessage {
            message: ChatMessage {
                user: format!("user{}", seq % 37),
                text: texts[(seq % 3) as usize].to_owned(),
                timestamp: 1_700_000_000_000 + seq as i64 * 1000,
                room: "general".parse().unwrap(),
                id: Some(format!("m{seq}")),
            },
            seq,
        })
        .collect();
    update(
        app,
        Action::HistoryLoaded {
            room: "general".parse().unwrap(),
            request: HistoryRequest::Latest { limit: 50 },
            page: HistoryPage {
                messages,
                has_more: false,
            },
        },
    );
}

fn per_frame(app: &App) -> Duration {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test backend");
    // Warm up caches and the allocator.
    for _ in 0..20 {
        terminal.draw(|f| render(app, f)).expect("draw");
    }
    let start = Instant::now();
    for _ in 0..FRAMES {
        terminal.draw(|f| render(black_box(app), f)).expect("draw");
    }
    start.elapsed() / FRAMES
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // Startup to first frame, no network: state, settings, one draw.
    let start = Instant::now();
    let app = chat();
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test backend");
    terminal.draw(|f| render(&app, f)).expect("draw");
    let first_frame = start.elapsed();

    let empty = per_frame(&app);
    let rss_before = resident_kib();
    let mut full = chat();
    let fill_start = Instant::now();
    fill(&mut full);
    let fill_time = fill_start.elapsed();
    let rss_after = resident_kib();
    let bottom = per_frame(&full);
    update(&mut full, Action::Scroll(2_000));
    let scrolled = per_frame(&full);
    // A long message being typed: the input row is drawn every keystroke.
    let mut typing = chat();
    let line: String = (0..4000)
        .map(|n| if n % 7 == 6 { ' ' } else { 'x' })
        .collect();
    update(&mut typing, Action::Paste(line));
    let long_input = per_frame(&typing);

    println!("natschat-tui render benchmark ({WIDTH}x{HEIGHT}, {FRAMES} frames each)");
    println!(
        "  baseline: empty room            {:>9.3} ms/frame",
        ms(empty)
    );
    println!(
        "  {MESSAGES} messages, newest shown {:>9.3} ms/frame  ({:.2}x baseline, target <= 2 ms)",
        ms(bottom),
        ratio(bottom, empty)
    );
    println!(
        "  {MESSAGES} messages, 2000 rows up {:>9.3} ms/frame  ({:.2}x baseline)",
        ms(scrolled),
        ratio(scrolled, empty)
    );
    println!(
        "  4000-character input line      {:>9.3} ms/frame  ({:.2}x baseline)",
        ms(long_input),
        ratio(long_input, empty)
    );
    println!(
        "  merging {MESSAGES} messages          {:>9.1} ms",
        ms(fill_time)
    );
    println!(
        "  resident memory: {:.1} MB before, {:.1} MB with the room (target <= 50 MB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    println!(
        "  startup to first frame, no network: {:.3} ms ({:.1}x one empty frame, target <= 150 ms)",
        ms(first_frame),
        ratio(first_frame, empty)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
