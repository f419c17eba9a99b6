//! TOML syntax errors at their cause, one per problem, in the words of the spec's author.
//!
//! The parser reports where it noticed a problem, which is often lines after the cause: a
//! missing `]` is noticed at the next key, and its recovery then reports every line after it
//! (a spec with one unclosed array printed 131 errors). Here the first error the parser
//! reports is traced back to its cause by a small scan of brackets, quotes and headers; the
//! cause is reported once, the lines it spoils are blanked out (offsets stay the same), and
//! the text is parsed again to find the next independent problem.

use toml::de::DeTable;

use crate::diag::{Code, Diagnostic};
use crate::source::{SourceId, Span};

/// The TOML version the parser implements (`toml` 1.x is `+spec-1.1.0`), for help links.
pub(super) const TOML_SPEC: &str = "TOML 1.1.0, https://toml.io/en/v1.1.0";

/// Most syntax problems reported for one file: each costs a parse of the whole text, and a
/// file with more is better fixed from the top.
const MAX_PROBLEMS: usize = 20;

/// The same, for files over 1 MiB, where each parse takes long enough to count.
const MAX_PROBLEMS_LARGE: usize = 3;

/// One diagnostic per syntax problem of `text`, which the parser rejected, at its cause.
/// `first` holds the parser's errors for the unchanged text.
pub(super) fn problems(
    text: &str,
    source: SourceId,
    first: Vec<toml::de::Error>,
    nesting_limit: impl Fn(&str, SourceId, std::ops::Range<usize>) -> Diagnostic,
) -> Vec<Diagnostic> {
    // The parser has a nesting limit of its own, above ours: report it as the same limit,
    // not as a syntax error, and nothing else (the rest is what the limit cut off).
    let deep: Vec<Diagnostic> = first
        .iter()
        .filter(|e| {
            let m = e.message().trim();
            m == "recursion limit" || m.starts_with("cannot recurse further")
        })
        .map(|e| nesting_limit(text, source, e.span().unwrap_or(0..0)))
        .collect();
    if !deep.is_empty() {
        return deep;
    }
    let limit = if text.len() > 1 << 20 {
        MAX_PROBLEMS_LARGE
    } else {
        MAX_PROBLEMS
    };
    let mut work = text.as_bytes().to_vec();
    let mut errors = first;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(e) = errors
            .iter()
            .min_by_key(|e| e.span().map_or(0, |r| r.start))
        else {
            break;
        };
        // Blanking replaces whole lines by spaces, so `work` stays UTF-8 with every offset
        // unchanged; the original text is used for what the diagnostic quotes.
        let Ok(current) = std::str::from_utf8(&work) else {
            break;
        };
        let (diagnostic, spoiled) = explain(current, text, source, e);
        // Only where the error was its own cause and nothing was blanked: a missing `,` the
        // parser noticed because a bracket before it was left open is that bracket's.
        let comma = missing_comma(current, e).filter(|_| spoiled.is_empty());
        out.push(diagnostic);
        let before = work.clone();
        for b in &mut work[spoiled.start.min(text.len())..spoiled.end.min(text.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        if let Some(at) = comma {
            work[at] = b',';
        }
        if work == before {
            break;
        }
        let Ok(current) = std::str::from_utf8(&work) else {
            break;
        };
        errors = DeTable::parse_recoverable(current).1;
    }
    out
}

/// Where the `,` goes that the parser found missing between two array elements: the blank
/// just before the second element, which then takes it without moving any offset. With
/// the comma in place the array parses on, so the problem is reported once; blanking the
/// element instead left its neighbours without a comma between them, the same problem again.
/// `None` when the parser's error is another, or the element has no blank before it.
fn missing_comma(current: &str, e: &toml::de::Error) -> Option<usize> {
    if !e
        .message()
        .trim()
        .starts_with("missing comma between array elements")
    {
        return None;
    }
    let at = e.span()?.start;
    let blank = at.checked_sub(1)?;
    matches!(current.as_bytes().get(blank), Some(b' ' | b'\t')).then_some(blank)
}

/// What a scan of the text up to the parser's error found still open there.
#[derive(Default)]
struct Open {
    /// Arrays and inline tables: the bracket and its offset, outermost first.
    brackets: Vec<(u8, usize)>,
    /// A string whose line ended before its closing quote: the quote's offset and the end of
    /// its line.
    string: Option<(usize, usize)>,
    /// A multi-line string never closed: the offset of its opening quotes.
    multiline: Option<usize>,
    /// A table header whose line ended before its `]`: its `[` and the end of its line.
    header: Option<(usize, usize)>,
}

/// Scans `text` before `until` for brackets, strings and headers, stopping at the first
/// string or header that its line does not close: that is the cause of anything after it.
fn scan(text: &str, until: usize) -> Open {
    let b = text.as_bytes();
    let until = until.min(b.len());
    let eol = |from: usize| text[from..].find('\n').map_or(b.len(), |n| from + n);
    let mut open = Open::default();
    let mut line_start = true;
    let mut i = 0;
    while i < until {
        let c = b[i];
        match c {
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                i = eol(i);
                continue;
            }
            b'"' | b'\'' => {
                let triple = if c == b'"' { "\"\"\"" } else { "'''" };
                if text[i..].starts_with(triple) {
                    match closing(text, i + 3, triple, c == b'"') {
                        Some(end) => i = end,
                        None => {
                            open.multiline = Some(i);
                            return open;
                        }
                    }
                } else {
                    let end = eol(i);
                    match closing(&text[..end], i + 1, &text[i..=i], c == b'"') {
                        Some(close) => i = close,
                        None if end <= until => {
                            open.string = Some((i, end));
                            return open;
                        }
                        // The error is inside this string (a bad escape), not after it.
                        None => return open,
                    }
                }
                line_start = false;
                continue;
            }
            b'[' if line_start && open.brackets.is_empty() => {
                let end = eol(i);
                match text[i..end].find(']') {
                    Some(close) => i += close + 1,
                    None if end <= until => {
                        open.header = Some((i, end));
                        return open;
                    }
                    None => return open,
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                line_start = false;
                continue;
            }
            b'[' | b'{' => open.brackets.push((c, i)),
            b']' | b'}' => {
                let opener = if c == b']' { b'[' } else { b'{' };
                if open.brackets.last().is_some_and(|(o, _)| *o == opener) {
                    open.brackets.pop();
                }
            }
            _ => {}
        }
        line_start = false;
        i += 1;
    }
    open
}

/// The offset just past the `quote` that closes a string whose text starts at `from`, if
/// `text` has one; `escapes` for basic strings, where `\"` does not close.
fn closing(text: &str, from: usize, quote: &str, escapes: bool) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = from;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        // Bytes, not `str` slices: `i` steps through multi-byte characters.
        if b[i..].starts_with(quote.as_bytes()) {
            // `""""` closes with the last three quotes: a quote may end the content.
            let mut end = i + quote.len();
            while quote.len() == 3 && end < b.len() && b[end] == quote.as_bytes()[0] {
                end += 1;
            }
            return Some(end);
        }
        i += 1;
    }
    None
}

/// The start of the line holding `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1)
}

/// The end of the line holding `at`, before its newline.
fn line_end(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text[at..].find('\n').map_or(text.len(), |n| at + n)
}

/// The end of the table whose header holds `at`: the start of the next header line.
fn table_end(text: &str, at: usize) -> usize {
    let from = line_end(text, at);
    text[from..]
        .find("\n[")
        .map_or(text.len(), |n| from + n + 1)
}

/// The offset just past the bracket of its own kind that closes the one at `offset`, before
/// the next table header, if there is one. If there is, an error after the bracket is not its
/// fault (a missing `,` between elements of a multi-line array); if not, the parser read the
/// lines after it as more elements.
fn matching_close(text: &str, offset: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = offset;
    let mut line_start = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                i = line_end(text, i);
                continue;
            }
            b'"' | b'\'' => {
                let triple = if c == b'"' { "\"\"\"" } else { "'''" };
                let (from, quote, limit) = if b[i..].starts_with(triple.as_bytes()) {
                    (i + 3, triple, b.len())
                } else {
                    (i + 1, &text[i..=i], line_end(text, i))
                };
                match closing(&text[..limit], from, quote, c == b'"') {
                    Some(end) => i = end,
                    None => return None,
                }
                line_start = false;
                continue;
            }
            _ => {}
        }
        // A header-like line (`[name]` alone on its line) ends what the bracket could hold.
        if line_start && c == b'[' {
            let line = text[i..line_end(text, i)]
                .split('#')
                .next()
                .unwrap_or_default();
            let next = line.as_bytes().get(1).copied().unwrap_or(b' ');
            if line.trim_end().ends_with(']')
                && !line.contains('=')
                && (next.is_ascii_alphanumeric() || matches!(next, b'[' | b'_' | b'-'))
            {
                return None;
            }
        }
        line_start = false;
        match c {
            b'[' | b'{' => stack.push(c),
            b']' | b'}' => {
                // A closer of the other kind is a stray (`type = "a" },` after a deleted
                // `{`): it is the error, and says nothing about this bracket.
                let opener = if c == b']' { b'[' } else { b'{' };
                if stack.last() == Some(&opener) {
                    stack.pop();
                    if stack.is_empty() {
                        return Some(i + 1);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The end of the line holding a lone `]` that closes the lines after `from`, when each of
/// those lines is an array element (`{ … },`, `"…",`, a number): an array whose `[` is
/// missing.
fn lone_closer(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while at < text.len() {
        let end = line_end(text, at + 1);
        let line = text[at..end].trim();
        if line.starts_with(']') {
            return Some(end);
        }
        let element = line.starts_with(['{', '"', '\''])
            || line.starts_with(|c: char| c.is_ascii_digit())
            || line.is_empty()
            || line.starts_with('#');
        if !element {
            return None;
        }
        at = end;
    }
    None
}

/// The diagnostic for the parser error `e` of `current` (the text with earlier problems
/// blanked out), and the range of the text its cause spoils, to blank before parsing again.
fn explain(
    current: &str,
    original: &str,
    source: SourceId,
    e: &toml::de::Error,
) -> (Diagnostic, std::ops::Range<usize>) {
    let at = e.span().unwrap_or(0..0);
    let span = |r: std::ops::Range<usize>| Span::new(source, r);
    let mut open = scan(current, at.start);
    // A string or header left open later on the error's own line is its cause too: the
    // parser may stop at the start of an element whose string runs to the end of the line.
    if open.string.is_none() && open.header.is_none() && open.multiline.is_none() {
        let line = scan(current, line_end(current, at.start));
        open.string = line.string;
        open.header = line.header;
    }
    let help = |what: &str| format!("{what} ({TOML_SPEC})");

    if let Some((quote, end)) = open.string {
        let d = Diagnostic::new(
            Code::TomlSyntax,
            "unclosed string",
            span(quote..quote + 1),
            "this string is never closed",
        )
        .related(span(end..end), "the line ends here")
        .help(help(&format!(
            "add the closing `{q}` before the end of the line; text over several lines goes \
             between `{q}{q}{q}`",
            q = &original[quote..=quote]
        )));
        return (d, line_start(current, quote)..end);
    }
    if let Some(quotes) = open.multiline {
        let d = Diagnostic::new(
            Code::TomlSyntax,
            "unclosed multi-line string",
            span(quotes..quotes + 3),
            "this string is never closed",
        )
        .help(help(&format!(
            "close it with `{}`",
            &original[quotes..quotes + 3]
        )));
        return (d, line_start(current, quotes)..current.len());
    }
    if let Some((bracket, end)) = open.header {
        let header = original[bracket..end].trim_end();
        let fixed = if header.starts_with("[[") {
            format!("{header}]]")
        } else {
            format!("{header}]")
        };
        let d = Diagnostic::new(
            Code::TomlSyntax,
            format!("unclosed table header `{header}`"),
            span(bracket..end),
            "no `]` on this line",
        )
        .help(help(&format!("write `{fixed}`")));
        // The header's keys go with it, or they would clash with the table before it.
        return (d, line_start(current, bracket)..table_end(current, end));
    }
    // The bracket to blame: the innermost one when the parser stopped at a closer of the
    // other kind (`[{ … ]`); otherwise the innermost one opened on an earlier line, when the
    // error's line starts something new (a header or `key =`) or the file ended: the
    // parser read that line as more elements of the bracket.
    let closer = current.as_bytes().get(at.start).copied();
    let error_line = line_start(current, at.start);
    let innermost = open.brackets.last().copied();
    let mismatched = innermost.is_some_and(|(bracket, _)| {
        matches!((bracket, closer), (b'{', Some(b']')) | (b'[', Some(b'}')))
    });
    let at_end = at.start >= current.trim_end().len();
    // An array opened on the error's own line that runs into `key =`: its `]` is missing
    // before the key (`values = ["a", ttl = "1h" }` inside an inline table). Blaming an
    // outer bracket from an earlier line would leave this line to fail again.
    let runs_into_key = innermost.filter(|(bracket, offset)| {
        *bracket == b'['
            && *offset >= error_line
            && *offset < at.start
            && starts_key_value(&current[at.start.min(current.len())..])
    });
    let blamed = if mismatched || runs_into_key.is_some() {
        innermost
    } else {
        open.brackets
            .iter()
            .rev()
            .find(|(_, offset)| *offset < error_line)
            .copied()
            .filter(|(_, offset)| at_end || matching_close(current, *offset).is_none())
    };
    if let Some((bracket, offset)) = blamed {
        let (what, close, advice) = if bracket == b'[' {
            ("array", ']', "add `]` after its last element")
        } else {
            ("inline table", '}', "add `}` after its last key and value")
        };
        // Where the author would have closed it: the parser's position on the bracket's own
        // line, else the start of the line that begins something new.
        let noticed = if mismatched || at_end || runs_into_key.is_some() {
            at.start.min(current.len())
        } else {
            error_line + (current[error_line..].len() - current[error_line..].trim_start().len())
        };
        let d = Diagnostic::new(
            Code::TomlSyntax,
            format!("unclosed {what}"),
            span(offset..offset + 1),
            format!("this `{}` has no matching `{close}`", bracket as char),
        )
        .related(
            span(noticed..noticed),
            format!("expected `{close}` before this"),
        )
        .help(help(advice));
        let end = if error_line <= offset {
            line_end(current, noticed)
        } else {
            error_line
        };
        return (d, line_start(current, offset)..end);
    }
    own_error(current, original, source, e)
}

/// Whether `text` starts with a `key =` (a bare or quoted key, perhaps dotted).
fn starts_key_value(text: &str) -> bool {
    let key_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'')))
        .unwrap_or(text.len());
    key_len > 0
        && text[key_len..]
            .trim_start_matches([' ', '\t'])
            .starts_with('=')
}

/// A syntax error that is its own cause: reported where the parser found it, in plainer
/// words where the parser's are about its grammar.
fn own_error(
    current: &str,
    original: &str,
    source: SourceId,
    e: &toml::de::Error,
) -> (Diagnostic, std::ops::Range<usize>) {
    let mut range = e.span().unwrap_or(0..0);
    let start = range.start.min(original.len());
    let snippet = original.get(range.clone()).unwrap_or_default();
    let parser = e.message().trim();
    let rest_of_line = &original[start..line_end(original, start)];
    let line_from = line_start(original, start);
    let line = original[line_from..line_end(original, start)].trim();
    let mut spoiled = line_from..line_end(current, start);
    // A value opened on this line and closed lines later (`policies [` after a lost `=`)
    // goes with it, or its elements would each read as an error of their own.
    let line_open = scan(current, line_end(current, start));
    if let Some(end) = line_open
        .brackets
        .iter()
        .filter(|(_, o)| *o >= line_from)
        .find_map(|(_, o)| matching_close(current, *o))
    {
        spoiled = line_from..line_end(current, end.saturating_sub(1)).max(spoiled.end);
    }
    let mut label = "here".to_owned();
    let mut advice = "see the TOML syntax".to_owned();
    let mut message = match parser.split_once(", expected ") {
        Some((what, expected)) => {
            label = format!("expected {expected}");
            what.to_owned()
        }
        None => parser.to_owned(),
    };
    let mut first: Option<(std::ops::Range<usize>, &str)> = None;
    if parser == "duplicate key" && !snippet.is_empty() && !snippet.contains('\n') {
        message = format!("duplicate key `{snippet}`");
        label = "given again here".into();
        advice = "remove one of the two".into();
        first = first_key(original, line_from, snippet).map(|r| (r, "first given here"));
    }
    if parser.starts_with("duplicate key") && line.starts_with('[') {
        message = format!("duplicate table `{line}`");
        label = "defined again here".into();
        advice = "merge the two tables into one".into();
        first = original[..line_from]
            .match_indices(line)
            .find(|(i, _)| *i == 0 || original.as_bytes()[i - 1] == b'\n')
            .map(|(i, _)| (i..i + line.len(), "first defined here"));
    } else if line.starts_with('[') {
        // `[services.api gateway]`, `[[services.api]`: the header itself is wrong.
        let header = line.split(" #").next().unwrap_or(line).trim_end();
        message = format!("invalid table header `{header}`");
        advice = match header.strip_prefix("[[") {
            Some(name) if !header.ends_with("]]") => {
                format!("write `[[{}]]`", name.trim_end_matches(']'))
            }
            _ => "a header is `[name]`, or `[[name]]` for an array of tables, with dotted keys of \
                  letters, digits, `_` and `-` (quote any other key: `[services.\"a b\"]`)"
                .into(),
        };
    }
    // `services.api]`: a header that lost its `[` reads as a key without a value.
    let code = line.split(" #").next().unwrap_or(line).trim_end();
    let lost_bracket = !line.starts_with('[') && code.ends_with(']') && !code.contains('=');
    if lost_bracket {
        let opening = if code.ends_with("]]") { "[[" } else { "[" };
        message = format!("table header `{code}` has no `{opening}`");
        label = format!("`{opening}` missing here");
        let indent = original[line_from..].len() - original[line_from..].trim_start().len();
        range = line_from + indent..line_from + indent;
        advice = format!("write `{opening}{code}`");
    }
    if line.starts_with('[') || lost_bracket {
        // The whole table goes, or its keys would clash with the table before it.
        spoiled = line_from..table_end(current, start);
    }
    // `memory = 512Mi`: the parser complains about a number or a bare word; the author
    // forgot the quotes. Numbers, dates and booleans that are merely malformed are not this.
    let value: &str = {
        let v = &original[start..];
        &v[..v.find([',', '}', ']', '\n', '#']).unwrap_or(v.len())]
    }
    .trim_end();
    let before = original[line_from..start].trim_end();
    let key = before.strip_suffix('=').map(|k| {
        let k = k.trim_end();
        let from = k
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"')))
            .map_or(0, |i| i + 1);
        &k[from..]
    });
    let unquoted = key.is_some_and(|k| !k.is_empty())
        && !value.is_empty()
        && !value.starts_with(['"', '\'', '[', '{'])
        && !matches!(value, "true" | "false")
        && !value.contains('=')
        && !value
            .chars()
            .all(|c| c.is_ascii_digit() || "+-._:eETZ ".contains(c));
    // `{ min = 3, max = 10 cpu = 70 }`: the parser reads `10 cpu` as one bare value; the
    // author forgot a `,` before the next key.
    let next_pair = value
        .split_once(char::is_whitespace)
        .filter(|(_, rest)| rest.contains('='))
        .map(|(first, rest)| (first, rest.trim_start()));
    // `policies =` then elements on the lines below and a lone `]`: the `[` was lost.
    let lost_array = (parser.starts_with("string values must be quoted")
        && rest_of_line.trim().is_empty())
    .then(|| lone_closer(original, line_end(original, start)))
    .flatten();
    if let (Some(end), Some(k)) = (lost_array, key) {
        message = format!("the array of `{k}` has no `[`");
        label = "`[` missing here".into();
        advice = format!("write `{k} = [`");
        spoiled = line_from..end;
    } else if let (Some((first, rest)), Some(k)) = (next_pair, key) {
        let next_key = rest.split(['=', ' ']).next().unwrap_or_default();
        message = format!("missing `,` between `{k} = {first}` and `{next_key}`");
        label = "a `,` goes after this value".into();
        advice = format!("write `{k} = {first}, {rest}`");
    } else if parser.starts_with("string values must be quoted") && rest_of_line.trim().is_empty() {
        message = "missing value after `=`".into();
        label = "a value goes here".into();
        advice = "write a value, e.g. `\"…\"`, or remove the key".into();
    } else if unquoted && !parser.starts_with("duplicate") {
        message = format!("text `{value}` is not quoted");
        label = "strings must be quoted".into();
        advice = format!("write `{} = \"{value}\"`", key.unwrap_or_default());
    }
    if message.starts_with("missing escaped value") {
        // `"^\d+$"`: a regular expression in a basic string. A literal string keeps every
        // backslash as written, which is what the author meant.
        let escape = original[start..].chars().take(1).collect::<String>();
        message = format!("`\\{escape}` is not an escape TOML knows");
        label = "unknown escape".into();
        let open = original[line_from..start].rfind('"').map(|i| line_from + i);
        let close = original[start..line_end(original, start)]
            .find('"')
            .map(|i| start + i);
        advice = match (open, close) {
            (Some(o), Some(c)) if !original[o + 1..c].contains('\'') => format!(
                "write `\\\\{escape}` for a backslash, or use a literal string: `'{}'`",
                &original[o + 1..c]
            ),
            _ => format!("write `\\\\{escape}` for a backslash"),
        };
    } else if message.starts_with("missing comma between array elements") {
        message = "missing `,` between array elements".into();
        advice = "separate the elements with `,`".into();
        if missing_comma(current, e).is_some() {
            // The comma is put in instead (see `problems`): the element stays to be read.
            spoiled = start..start;
        }
    } else if message.starts_with("invalid inline table element") {
        message = "missing `,` between the keys of an inline table".into();
        advice = "separate `key = value` pairs with `,`".into();
    } else if message.starts_with("unexpected key or value") && label.contains("newline") {
        message = "unexpected text after the value".into();
        label = "the line should end here".into();
        advice = "a key takes one value: put several in an array (`[\"a\", \"b\"]`), or start \
                  a comment with `#`"
            .into();
    } else if message.starts_with("key with no value") {
        message = "key without a value".into();
        advice =
            "keys are letters, digits, `_` and `-` (quote others), followed by `= value`".into();
    }
    // A NUL or other control character is invisible in the rendered snippet; name it.
    let control = |c: &char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    let at_error = match snippet {
        "" => rest_of_line.chars().next().filter(control),
        s => s.chars().find(control),
    };
    if let Some(c) = at_error {
        message = format!(
            "control character U+{:04X} is not allowed here ({message})",
            u32::from(c)
        );
        advice = "remove the character; write it as an escape such as `\\u0000` in a string".into();
    }
    let mut d = Diagnostic::new(Code::TomlSyntax, message, Span::new(source, range), label)
        .help(format!("{advice} ({TOML_SPEC})"));
    if let Some((first, what)) = first {
        d = d.related(Span::new(source, first), what);
    }
    (d, spoiled)
}

/// Where `key` was first given in the table that holds the line at `line_from`: the
/// nearest line above, after the table's header, that starts with `key =` or `key.`.
fn first_key(text: &str, line_from: usize, key: &str) -> Option<std::ops::Range<usize>> {
    let mut end = line_from;
    while end > 0 {
        let start = line_start(text, end - 1);
        let line = &text[start..end];
        let body = line.trim_start();
        if body.starts_with('[') {
            return None;
        }
        if let Some(rest) = body.strip_prefix(key) {
            if rest.trim_start().starts_with(['=', '.']) {
                let at = start + (line.len() - body.len());
                return Some(at..at + key.len());
            }
        }
        end = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    /// The messages `problems` gives for `text`.
    fn messages(text: &str) -> Vec<String> {
        let mut sources = Sources::new();
        let id = sources.add("t.toml", text);
        let errors = DeTable::parse_recoverable(text).1;
        problems(text, id, errors, |_, s, r| {
            Diagnostic::new(Code::InputLimit, "deep", Span::new(s, r), "deep")
        })
        .into_iter()
        .map(|d| d.message)
        .collect()
    }

    #[test]
    fn multi_byte_text_around_quotes_scans_safely() {
        assert_eq!(messages("a = \"café\nb = 1\n"), ["unclosed string"]);
        assert_eq!(
            messages("a = \"é\\\"é\"\nb = [\"ü\"\nc = 1\n"),
            ["unclosed array"]
        );
        assert_eq!(messages("a = '''ü\n"), ["unclosed multi-line string"]);
    }

    #[test]
    fn a_missing_comma_between_multi_line_elements_is_one_problem() {
        let text = "r = [\n  { a = 1 },\n  { a = 2 }\n  { a = 3 },\n  { a = 4 },\n]\n";
        assert_eq!(messages(text), ["missing `,` between array elements"]);
    }

    #[test]
    fn an_array_that_runs_into_a_key_is_unclosed_where_it_opens() {
        let text = "r = [\n  { v = [\"x\", ttl = \"1h\" },\n  { v = [\"y\"] },\n]\n";
        let found = messages(text);
        assert_eq!(found, ["unclosed array"], "{found:?}");
    }
}
