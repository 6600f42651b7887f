//! Progress bars that degrade to periodic log lines when nobody watches a terminal
//! (stderr redirected, or under CI), so long runs still show signs of life in log files.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// A progress bar of `len` steps labelled `msg`.
///
/// On an interactive stderr (and `CI` unset) it is a normal indicatif bar. Otherwise nothing is
/// drawn and instead one `info` log line is emitted per ~10% of progress (and at the end).
/// The logged percentage uses `len` as given here (a later `set_length` is not tracked).
pub fn progress_bar(len: u64, msg: &str) -> ProgressBar {
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("CI").is_none();
    if interactive {
        let style = ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})",
        )
        .expect("valid progress template");
        let bar = ProgressBar::new(len).with_style(style);
        bar.set_message(msg.to_string());
        return bar;
    }
    // The fake terminal reads the position back from the rendered line (the bar's own getters
    // take the lock that is held while drawing), so this template must start with `{pos}/{len}`.
    let style = ProgressStyle::with_template("{pos}/{len} {msg}").expect("valid progress template");
    let term = LogTerm {
        msg: msg.to_string(),
        last_decile: AtomicU64::new(u64::MAX),
    };
    let bar = ProgressBar::with_draw_target(
        Some(len),
        ProgressDrawTarget::term_like_with_hz(Box::new(term), 4),
    )
    .with_style(style);
    bar.set_message(msg.to_string());
    bar
}

/// A fake terminal: ignores the bar's look and logs the position when it crosses a tenth.
#[derive(Debug)]
struct LogTerm {
    msg: String,
    last_decile: AtomicU64,
}

impl LogTerm {
    fn report(&self, line: &str) {
        let Some((pos, len)) = parse_pos_len(line) else {
            return;
        };
        let decile = (pos.min(len) * 10).checked_div(len).unwrap_or(10);
        let last = self.last_decile.load(Ordering::Relaxed);
        if (last != u64::MAX && decile <= last) || (last == u64::MAX && pos == 0 && len > 0) {
            // Nothing new, or the initial empty draw.
            return;
        }
        self.last_decile.store(decile, Ordering::Relaxed);
        log::info!("{}: {}/{} ({}%)", self.msg, pos, len, decile * 10);
    }
}

/// `"12/100 msg"` -> (12, 100).
fn parse_pos_len(line: &str) -> Option<(u64, u64)> {
    let first = line.split_whitespace().next()?;
    let (pos, len) = first.split_once('/')?;
    Some((pos.parse().ok()?, len.parse().ok()?))
}

impl TermLike for LogTerm {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.report(s);
        Ok(())
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.report(s);
        Ok(())
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_interactive_bar_counts_and_finishes() {
        // Under `cargo test` stderr is captured or not a terminal in CI; either way this must not hang.
        crate::init_logging();
        crate::init_logging();
        let bar = progress_bar(25, "test");
        for _ in 0..25 {
            bar.inc(1);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        bar.finish();
        assert_eq!(bar.position(), 25);
    }

    #[test]
    fn parses_rendered_line() {
        assert_eq!(parse_pos_len("12/100 scanning layers"), Some((12, 100)));
        assert_eq!(parse_pos_len("garbage"), None);
    }

    #[test]
    fn zero_length_bar_is_fine() {
        let bar = progress_bar(0, "empty");
        bar.finish_and_clear();
    }
}
