//! The `terraform fmt` pass over hcl-rs output.
//!
//! hcl-rs writes every attribute as `key = value` with one space before the `=`, indents
//! compactly written arrays of objects by its own rule and leaves spaces inside an empty
//! nested block (`none {  }`), while `terraform fmt` (hclwrite) aligns the `=` of consecutive
//! single-line attributes and the `#` of consecutive trailing comments, indents by bracket
//! count and writes `none {}`. This pass reproduces hclwrite's `formatIndent` and
//! `formatCells` on the text: it counts each line's brackets, splits it into a lead, an
//! assignment cell and a comment cell exactly as hclwrite does, re-indents it and pads the
//! cells of each run of consecutive lines to a common column.
//!
//! The rules it mirrors (hashicorp/hcl `hclwrite/format.go`):
//! - a line has an assignment cell when its first `=` token is not the line's first token
//!   and the brackets from that `=` to the end of the line balance (counting `(`, `[`, `{`,
//!   `${` and `%{` against their closers, and stopping at a heredoc opener), so `tags = {`
//!   starts no cell and breaks the run;
//! - a line has a comment cell when it ends in a comment after some other token;
//! - runs are broken by any line without the cell, so blank lines, block headers, closing
//!   brackets and full-line comments each start a new run;
//! - widths count characters, indentation included; lines inside a heredoc are left alone.

/// Indents and aligns `=` and trailing comments the way `terraform fmt` does. Spacing
/// inside the cells is kept as written: hcl-rs already writes it canonically.
pub fn align(text: &str) -> String {
    let mut scanner = Scanner::default();
    let mut lines: Vec<Line> = Vec::new();
    for raw in text.split_inclusive('\n') {
        // A heredoc's body and closing marker belong to the line that opened it, as in
        // hclwrite, where they are one string token without a newline token between.
        match lines.last_mut() {
            Some(open) if scanner.heredoc.is_some() => {
                scanner.heredoc_line(raw);
                open.tail.push_str(raw);
            }
            _ => lines.push(scanner.line(raw)),
        }
    }

    indent(&mut lines);
    // Assignment cells first: moving them moves the comment cells too.
    for run in runs(&lines, |l| l.assign.is_some()) {
        let widest = run.clone().map(|i| lines[i].lead_width()).max();
        for i in run {
            let pad = widest.unwrap_or(0) - lines[i].lead_width() + 1;
            lines[i].assign_pad = pad;
        }
    }
    for run in runs(&lines, |l| l.comment.is_some()) {
        let widest = run.clone().map(|i| lines[i].before_comment_width()).max();
        for i in run {
            let pad = widest.unwrap_or(0) - lines[i].before_comment_width() + 1;
            lines[i].comment_pad = pad;
        }
    }
    lines
        .iter()
        .map(Line::render)
        .map(|l| spaced_object_for(&l))
        .collect()
}

/// An attribute whose value is an object `for` expression on one line, with spaces inside
/// its braces: hcl-rs writes `key = {for o in xs : o.k => o}`, hclwrite puts a space after
/// every `{` and before every `}` on a line (`spaceAfterToken`), so `{ for … }`. Only a
/// line that is `<name> = {for … }` whole is touched, so a string holding the same
/// characters is left as written.
fn spaced_object_for(line: &str) -> String {
    let body = line.trim_end_matches('\n');
    let newline = &line[body.len()..];
    let Some((name, value)) = body.split_once(" = {for ") else {
        return line.to_owned();
    };
    let named = name
        .trim_end()
        .trim_start()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.trim().is_empty();
    match value.strip_suffix('}') {
        Some(inner) if named && !inner.ends_with(' ') => {
            format!("{name} = {{ for {inner} }}{newline}")
        }
        _ => line.to_owned(),
    }
}

/// Sets each line's indentation from the brackets opened before it, as hclwrite's
/// `formatIndent` does: a line opening brackets is indented at the current level and opens
/// one level, however many brackets it opened; a line closing brackets first closes the
/// levels they account for. So a `}, {` line, which closes one bracket and opens one, stays
/// at the level of the object's items.
fn indent(lines: &mut [Line]) {
    let mut levels: Vec<i64> = Vec::new();
    for line in lines.iter_mut() {
        if line.body().trim().is_empty() {
            continue;
        }
        let net = line.brackets;
        if net < 0 {
            let mut closed = -net;
            while closed > 0 {
                let Some(last) = levels.last_mut() else {
                    break;
                };
                if closed >= *last {
                    closed -= *last;
                    levels.pop();
                } else {
                    *last -= closed;
                    closed = 0;
                }
            }
        }
        line.indent = 2 * levels.len();
        if net > 0 {
            levels.push(net);
        }
    }
}

/// Indices of maximal runs of consecutive lines for which `has` holds.
fn runs(lines: &[Line], has: impl Fn(&Line) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        match (has(l), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..lines.len());
    }
    out
}

/// One line split into hclwrite's cells.
#[derive(Debug)]
struct Line<'a> {
    /// The physical line, newline included; used verbatim when the line has no cells.
    raw: &'a str,
    /// The lines of a heredoc opened on this line, verbatim.
    tail: String,
    /// Byte offset of the `=` starting the assignment cell.
    assign: Option<usize>,
    /// Byte offset of the comment starting the comment cell.
    comment: Option<usize>,
    /// Spaces to put before the `=`.
    assign_pad: usize,
    /// Spaces to put before the comment.
    comment_pad: usize,
    /// Byte range of the spaces in an empty `{    }` at the end of the line, which
    /// hcl-rs writes for an empty nested block and `terraform fmt` closes up.
    empty_braces: Option<std::ops::Range<usize>>,
    /// Net brackets opened on the line.
    brackets: i64,
    /// Indentation in spaces, as hclwrite computes it.
    indent: usize,
}

impl Line<'_> {
    fn body(&self) -> &str {
        self.raw.trim_end_matches('\n')
    }

    /// The lead: everything before the first cell, without indentation or trailing spaces.
    fn lead(&self) -> &str {
        let end = self.assign.or(self.comment).unwrap_or(self.body().len());
        self.body()[..end].trim()
    }

    fn lead_width(&self) -> usize {
        self.indent + width(self.lead())
    }

    /// The assignment cell without the spaces around it.
    fn assign_cell(&self) -> Option<&str> {
        let start = self.assign?;
        let end = self.comment.unwrap_or(self.body().len());
        Some(self.body()[start..end].trim_end())
    }

    /// Width of everything before the comment cell once the `=` is aligned.
    fn before_comment_width(&self) -> usize {
        match self.assign_cell() {
            Some(cell) => self.lead_width() + self.assign_pad + width(cell),
            None => self.lead_width(),
        }
    }

    fn render(&self) -> String {
        if self.body().trim().is_empty() {
            // hclwrite never leaves spaces on an empty line.
            return format!("{}{}", &self.raw[self.body().len()..], self.tail);
        }
        let mut out = " ".repeat(self.indent);
        if let Some(spaces) = &self.empty_braces {
            let mut body = self.body().to_owned();
            body.replace_range(spaces.clone(), "");
            out.push_str(body.trim());
        } else {
            out.push_str(self.lead());
        }
        if let Some(cell) = self.assign_cell() {
            out.push_str(&" ".repeat(self.assign_pad));
            out.push_str(cell);
        }
        if let Some(start) = self.comment {
            out.push_str(&" ".repeat(self.comment_pad));
            out.push_str(self.body()[start..].trim_end());
        }
        if self.raw.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&self.tail);
        out
    }
}

/// Display width as hclwrite counts it: one column per character.
fn width(s: &str) -> usize {
    s.chars().count()
}

/// What an open bracket on the scanner's stack is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    /// `(`, `[` or `{` in an expression.
    Bracket,
    /// `${` or `%{` inside a quoted string: its `}` returns to the string.
    Interpolation,
    /// A quoted string.
    Quote,
}

/// A line-by-line lexer that keeps the state a line can leave open: quoted strings with
/// interpolations, block comments and heredocs.
#[derive(Default)]
struct Scanner {
    stack: Vec<Open>,
    in_block_comment: bool,
    /// The closing marker of the heredoc being read.
    heredoc: Option<String>,
}

impl Scanner {
    fn line<'a>(&mut self, raw: &'a str) -> Line<'a> {
        let mut line = Line {
            raw,
            tail: String::new(),
            assign: None,
            comment: None,
            assign_pad: 1,
            comment_pad: 1,
            empty_braces: None,
            brackets: 0,
            indent: 0,
        };
        let body = raw.trim_end_matches('\n');
        let bytes = body.as_bytes();
        let mut tokens_before = 0usize;
        // Bracket balance from the first `=` on, until a heredoc opener.
        let mut net: Option<i64> = None;
        let mut counting = true;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let next = bytes.get(i + 1).copied();
            if self.in_block_comment {
                if c == b'*' && next == Some(b'/') {
                    self.in_block_comment = false;
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            if self.stack.last() == Some(&Open::Quote) {
                match (c, next) {
                    (b'\\', _) => i += 2,
                    // `$${` and `%%{` are the escaped, literal forms: text, not an opener.
                    (b'$', Some(b'$')) | (b'%', Some(b'%')) if bytes.get(i + 2) == Some(&b'{') => {
                        i += 3
                    }
                    (b'$' | b'%', Some(b'{')) => {
                        self.stack.push(Open::Interpolation);
                        bump(&mut net, &mut line.brackets, counting, 1);
                        i += 2;
                    }
                    (b'"', _) => {
                        self.stack.pop();
                        i += 1;
                    }
                    _ => i += 1,
                }
                continue;
            }
            match (c, next) {
                (b' ' | b'\t' | b'\r', _) => {
                    i += 1;
                    continue;
                }
                (b'#', _) | (b'/', Some(b'/')) => {
                    if tokens_before > 0 {
                        line.comment = Some(i);
                    }
                    break;
                }
                (b'/', Some(b'*')) => {
                    self.in_block_comment = true;
                    i += 2;
                    continue;
                }
                (b'"', _) => {
                    self.stack.push(Open::Quote);
                    i += 1;
                }
                (b'<', Some(b'<')) => {
                    let rest = &body[i + 2..];
                    let rest = rest.strip_prefix('-').unwrap_or(rest);
                    let marker: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                        .collect();
                    if marker.is_empty() {
                        i += 2;
                    } else {
                        self.heredoc = Some(marker);
                        counting = false;
                        i = bytes.len();
                    }
                }
                (b'{', _) if net.is_none() && body[i + 1..].trim() == "}" => {
                    // An empty block body, `name {    }`: the last thing on the line.
                    let spaces = i + 1..body.len() - 1;
                    if !spaces.is_empty() {
                        line.empty_braces = Some(spaces);
                    }
                    break;
                }
                (b'(' | b'[' | b'{', _) => {
                    self.stack.push(Open::Bracket);
                    bump(&mut net, &mut line.brackets, counting, 1);
                    i += 1;
                }
                (b')' | b']' | b'}', _) => {
                    // Closing an interpolation returns to the quoted string below it.
                    self.stack.pop();
                    bump(&mut net, &mut line.brackets, counting, -1);
                    i += 1;
                }
                (b'=' | b'!' | b'<' | b'>', Some(b'=')) | (b'=', Some(b'>')) => i += 2,
                (b'=', _) => {
                    // hclwrite considers only the first `=` that is not the line's first
                    // token.
                    if net.is_none() && tokens_before > 0 {
                        line.assign = Some(i);
                        net = Some(0);
                    }
                    i += 1;
                }
                _ => {
                    // Any other token: an identifier, number or operator, read as a unit.
                    let start = i;
                    while i < bytes.len() && is_word(bytes[i]) {
                        i += 1;
                    }
                    if i == start {
                        i += 1;
                    }
                }
            }
            tokens_before += 1;
        }
        if net.is_some_and(|n| n != 0) {
            line.assign = None;
        }
        line
    }
}

impl Scanner {
    /// Reads one line of an open heredoc, closing it at its marker.
    fn heredoc_line(&mut self, raw: &str) {
        if self.heredoc.as_deref() == Some(raw.trim()) {
            self.heredoc = None;
        }
    }
}

/// Counts a bracket: into the line's balance and, once the line's `=` is seen, into the
/// assignment's balance. Nothing counts after a heredoc opener.
fn bump(net: &mut Option<i64>, brackets: &mut i64, counting: bool, by: i64) {
    if counting {
        *brackets += by;
        if let Some(n) = net {
            *n += by;
        }
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::align;

    /// Every case here was checked against `terraform fmt` 1.11; the integration test
    /// `terraform_fmt_agrees_with_the_alignment_pass` re-checks them when terraform is
    /// installed.
    pub(crate) const CASES: &[(&str, &str)] = &[
        (
            // A run of attributes, broken by a blank line.
            "a = 1\nlong_name = 2\n\nxy = 3\nx = 4\n",
            "a         = 1\nlong_name = 2\n\nxy = 3\nx  = 4\n",
        ),
        (
            // Nested blocks: the header and closing lines break runs; each body aligns alone.
            "resource \"a\" \"b\" {\n  name = \"x\"\n  description = \"y\"\n  inner {\n    k = 1\n    longer = 2\n  }\n  after = true\n}\n",
            "resource \"a\" \"b\" {\n  name        = \"x\"\n  description = \"y\"\n  inner {\n    k      = 1\n    longer = 2\n  }\n  after = true\n}\n",
        ),
        (
            // A multi-line value opens brackets, so its line starts no cell; the object's
            // items align among themselves.
            "a = 1\ntags = {\n  Name = \"x\"\n  \"kubernetes.io/role/elb\" = 1\n}\nbb = 2\n",
            "a = 1\ntags = {\n  Name                     = \"x\"\n  \"kubernetes.io/role/elb\" = 1\n}\nbb = 2\n",
        ),
        (
            // Balanced brackets on one line keep the cell: arrays, calls, objects.
            "a = [1, 2]\nlonger = merge({ a = 1 }, { b = 2 })\nc = f(\"x\")\n",
            "a      = [1, 2]\nlonger = merge({ a = 1 }, { b = 2 })\nc      = f(\"x\")\n",
        ),
        (
            // An object `for` expression as hcl-rs writes it gets spaces inside its braces;
            // the same characters inside a string stay as they are.
            "for_each = {for o in xs : o.k => o}\nname = \"= {for x}\"\n",
            "for_each = { for o in xs : o.k => o }\nname     = \"= {for x}\"\n",
        ),
        (
            // `=` inside strings, comparisons and fat arrows are not assignments.
            "a = \"x = y\"\nbbb = a == b ? 1 : 2\nc = { for k, v in m : k => v }\n",
            "a   = \"x = y\"\nbbb = a == b ? 1 : 2\nc   = { for k, v in m : k => v }\n",
        ),
        (
            // Interpolations open and close inside the string; an unbalanced value line
            // (a call spanning lines) breaks the run.
            "path = \"${path.module}/x\"\nvalues = [yamlencode({\n  a = 1\n})]\nk = 2\n",
            "path = \"${path.module}/x\"\nvalues = [yamlencode({\n  a = 1\n})]\nk = 2\n",
        ),
        (
            // Full-line comments break runs; trailing comments align among themselves,
            // after the aligned `=`.
            "# header\na = 1 # one\nlonger = 2 # two\n# between\nb = 3\ncc = 4\n",
            "# header\na      = 1 # one\nlonger = 2 # two\n# between\nb  = 3\ncc = 4\n",
        ),
        (
            // A heredoc is one line to hclwrite, up to its closing marker: its opening line
            // keeps its cell, its body is left alone and the run goes on after it.
            "a = 1\nscript = <<EOT\nx = 1\n  yy = 2\nEOT\nbb = 2\n",
            "a      = 1\nscript = <<EOT\nx = 1\n  yy = 2\nEOT\nbb     = 2\n",
        ),
        (
            // An indented heredoc.
            "p = <<-EOT\n    {\"a\": 1}\n  EOT\nlonger = 1\nq = 2\n",
            "p      = <<-EOT\n    {\"a\": 1}\n  EOT\nlonger = 1\nq      = 2\n",
        ),
        (
            // Non-ASCII keys count characters, not bytes.
            "x = {\n  \"é\" = 1\n  ab = 2\n}\n",
            "x = {\n  \"é\" = 1\n  ab  = 2\n}\n",
        ),
        (
            // Empty nested blocks, which hcl-rs writes with the indentation inside.
            "a {\n  allow {  }\n  b = 1\n  none {    }\n}\nc {}\n",
            "a {\n  allow {}\n  b = 1\n  none {}\n}\nc {}\n",
        ),
        (
            // An array of objects written compactly: `}, {` closes one bracket and opens one,
            // so it stays at the level of the items.
            "x = {\n  S = [{\n    a = 1\n    bb = 2\n  }, {\n    c = 3\n  }]\n}\n",
            "x = {\n  S = [{\n    a  = 1\n    bb = 2\n    }, {\n    c = 3\n  }]\n}\n",
        ),
        (
            // Indentation is recomputed from the brackets.
            "a {\n      b = 1\n  c {\n d = 2\n    }\n}\n",
            "a {\n  b = 1\n  c {\n    d = 2\n  }\n}\n",
        ),
        (
            // `$${` and `%%{` are escaped literals, not interpolations: an unbalanced one
            // leaves the string open to no one, so the `=` inside the next string is text
            // and the attributes after it still align.
            "a = \"x$${y\"\nbb = \"p = q\"\nc = \"%%{ if\"\ndddd = 1\n",
            "a    = \"x$${y\"\nbb   = \"p = q\"\nc    = \"%%{ if\"\ndddd = 1\n",
        ),
        (
            // Already aligned input is left as it is; too-wide padding is reduced.
            "a  = 1\nbb = 2\nc       = 3\n",
            "a  = 1\nbb = 2\nc  = 3\n",
        ),
    ];

    #[test]
    fn aligns_like_terraform_fmt() {
        for (input, expected) in CASES {
            assert_eq!(align(input), *expected, "input:\n{input}");
        }
    }

    #[test]
    fn is_idempotent() {
        for (_, expected) in CASES {
            assert_eq!(align(expected), *expected);
        }
    }

    /// The cases above, checked against terraform itself when it is installed.
    #[test]
    fn cases_agree_with_terraform() {
        let Some(fmt) = super::super::tests::terraform_fmt() else {
            eprintln!("terraform not on PATH: skipping the comparison with terraform fmt");
            return;
        };
        for (input, expected) in CASES {
            assert_eq!(fmt(input).as_deref(), Ok(*expected), "input:\n{input}");
        }
    }
}
