//! Text for fields that Prometheus and Alertmanager execute as Go templates.
//!
//! Prometheus expands the labels and annotations of alerting rules, and Alertmanager most
//! receiver fields (a Slack channel, an e-mail address), as Go `text/template`s. Prose from
//! the spec that reaches such a field is text, not a template: written raw, a `{{` in a
//! summary breaks `promtool check rules`, and in a receiver field it passes `amtool
//! check-config` and fails only when a notification is sent. [`literal`] is the one escape
//! for those fields: every `{` becomes a template action printing `{`, so no byte of the
//! text can open an action, and text placed beside plinth's own actions (`{{ $value }}`)
//! cannot form one with them either.

use std::borrow::Cow;

/// The action that prints one `{`.
const BRACE: &str = "{{ \"{\" }}";

/// `text` as a Go template that prints `text` verbatim.
pub fn literal(text: &str) -> Cow<'_, str> {
    if text.contains('{') {
        Cow::Owned(text.replace('{', BRACE))
    } else {
        Cow::Borrowed(text)
    }
}

/// What a template made of [`literal`] text and no other actions prints: the inverse of
/// [`literal`], for the expected values of the generated rule tests.
pub fn render_literals(template: &str) -> Cow<'_, str> {
    if template.contains(BRACE) {
        Cow::Owned(template.replace(BRACE, "{"))
    } else {
        Cow::Borrowed(template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_text_opens_an_action() {
        for text in [
            "{{ .Labels }}",
            "a{",
            "{{{",
            "}} {{",
            "{{/* x */}}",
            "{{- end -}}",
        ] {
            let t = literal(text);
            // Every `{{` left is one of ours, and each is closed before the next opens.
            let rest = t.replace(BRACE, "");
            assert!(!rest.contains('{'), "{text} -> {t}");
            assert_eq!(render_literals(&t), text);
        }
        assert!(matches!(literal("no braces"), Cow::Borrowed(_)));
    }

    #[test]
    fn text_beside_an_action_stays_text() {
        // A lone `{` before one of plinth's actions must not join it into `{{{`.
        let t = format!("{}{{{{ $value }}}}", literal("x{"));
        assert_eq!(t, "x{{ \"{\" }}{{ $value }}");
    }
}
