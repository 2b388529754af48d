//! Breaking message text into terminal rows by display width, so that
//! wide characters (CJK, most emoji) never straddle the right edge.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Display width of a string in terminal cells, grapheme by grapheme (the
/// way ratatui's buffer places them).
pub fn display_width(text: &str) -> usize {
    text.graphemes(true).map(grapheme_width).sum()
}

fn grapheme_width(grapheme: &str) -> usize {
    // Control characters (a stray tab, say) still take a cell when shown,
    // and counting them as zero would let a row grow past the edge.
    UnicodeWidthStr::width(grapheme).max(1)
}

/// Splits `text` into rows: the first at most `first_width` cells wide, the
/// rest at most `width` cells. Breaks at the last space that fits when
/// there is one, otherwise between graphemes; explicit newlines always
/// start a new row. Returns byte ranges into `text`.
pub fn wrap(text: &str, first_width: usize, width: usize) -> Vec<std::ops::Range<usize>> {
    let width = width.max(2);
    let mut rows = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        wrap_line(line, offset, first_width.max(2), width, &mut rows);
        offset += line.len() + 1;
    }
    rows
}

fn wrap_line(
    line: &str,
    base: usize,
    first_width: usize,
    width: usize,
    rows: &mut Vec<std::ops::Range<usize>>,
) {
    let limit = |rows: &Vec<std::ops::Range<usize>>, start_rows: usize| {
        if rows.len() == start_rows && start_rows == 0 {
            first_width
        } else {
            width
        }
    };
    let start_rows = rows.len();
    let mut row_start = 0;
    let mut row_width = 0;
    // Byte offset just after the last space in the current row, where a
    // break would keep words whole.
    let mut last_space: Option<usize> = None;
    for (at, grapheme) in line.grapheme_indices(true) {
        let w = grapheme_width(grapheme);
        if row_width + w > limit(rows, start_rows) && at > row_start {
            let cut = match last_space {
                Some(space) if space > row_start && space < at => space,
                _ => at,
            };
            rows.push(base + row_start..base + trim_end(line, row_start, cut));
            if cut == at && grapheme == " " {
                // The space the row broke at is not carried to the next.
                row_start = at + 1;
                row_width = 0;
                last_space = None;
                continue;
            }
            row_start = cut;
            row_width = display_width(&line[row_start..at]);
            last_space = None;
        }
        row_width += w;
        if grapheme == " " {
            last_space = Some(at + 1);
        }
    }
    rows.push(base + row_start..base + line.len());
}

/// The end of a row without the spaces at which it was broken.
fn trim_end(line: &str, start: usize, end: usize) -> usize {
    start + line[start..end].trim_end_matches(' ').len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, first: usize, width: usize) -> Vec<&str> {
        wrap(text, first, width)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn short_text_is_one_row() {
        assert_eq!(rows("hello", 10, 10), ["hello"]);
        assert_eq!(rows("", 10, 10), [""]);
    }

    #[test]
    fn breaks_at_spaces_when_a_word_fits() {
        assert_eq!(rows("one two three", 8, 8), ["one two", "three"]);
    }

    #[test]
    fn breaks_long_words_between_graphemes() {
        assert_eq!(rows("abcdefghij", 4, 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wide_characters_never_straddle_the_edge() {
        // Each of these takes two cells: three fit in 7 cells, not four.
        let text = "日本語のテキスト";
        for row in rows(text, 7, 7) {
            assert!(display_width(row) <= 7, "{row}");
        }
        assert_eq!(rows(text, 7, 7)[0], "日本語");
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let text = format!("ab{family}{family}");
        let split = rows(&text, 4, 4);
        assert!(
            split.iter().all(|r| !r.starts_with('\u{200d}')),
            "{split:?}"
        );
        assert!(split.iter().all(|r| display_width(r) <= 4), "{split:?}");
    }

    #[test]
    fn first_row_can_be_narrower_and_newlines_start_rows() {
        assert_eq!(rows("aaaa bbbb", 4, 10), ["aaaa", "bbbb"]);
        assert_eq!(rows("a\nb", 10, 10), ["a", "b"]);
    }
}
