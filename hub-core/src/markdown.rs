//! An announcement's Markdown as people read it, the one renderer every
//! place uses (the email list's messages, Mailman posts, the public archive):
//! the text part is the Markdown itself (written to be read as text), the
//! HTML part is rendered and then sanitized with an allow-list, so no
//! script, style, form, event handler, remote image or `javascript:` link
//! from a body ever reaches a reader's client or a page of the hub.

use std::collections::HashSet;

/// The two bodies of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `text/plain`.
    pub text: String,
    /// `text/html`, a fragment, sanitized.
    pub html: String,
}

/// Renders Markdown to text and sanitized HTML.
#[must_use]
pub fn render(body: &str) -> Rendered {
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    options.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    let parser = pulldown_cmark::Parser::new_ext(body, options);
    let mut unsafe_html = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut unsafe_html, parser);
    Rendered {
        text: normalize_newlines(body),
        html: sanitize(&unsafe_html),
    }
}

/// Cleans HTML with the allow-list: what list mail and the archive may show.
#[must_use]
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .rm_tags(["img"]) // remote images track readers
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .clean(html)
        .to_string()
}

/// Bare CR or LF become CRLF line ends later; here every line end is LF.
fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html_and_the_text_stays_readable() {
        let rendered =
            render("# Call\n\nJoin us **Tuesday**: <https://example.org/x>\n\n- one\n- two\n");
        assert!(rendered.html.contains("<h1>Call</h1>"), "{}", rendered.html);
        assert!(rendered.html.contains("<strong>Tuesday</strong>"));
        assert!(rendered.html.contains("<li>one</li>"));
        assert!(rendered.html.contains("rel=\"noopener noreferrer\""));
        assert!(rendered.text.contains("Join us **Tuesday**"));
    }

    /// What a hostile or careless body can carry; none of it may survive.
    const INJECTIONS: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "[x](javascript:alert(1))",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<style>body{display:none}</style>",
        "<form action=\"https://evil.example\"><input name=p></form>",
        "<div onclick=\"alert(1)\">x</div>",
        "<svg><script>alert(1)</script></svg>",
        "<object data=\"x\"></object><embed src=\"x\">",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
        "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>",
        "<p style=\"background:url(https://tracker.example/p.gif)\">x</p>",
        "![pixel](https://tracker.example/p.gif)",
        "<scr<script>ipt>alert(1)</script>",
    ];

    #[test]
    fn no_injection_survives_sanitizing() {
        for body in INJECTIONS {
            let html = render(body).html.to_ascii_lowercase();
            for banned in [
                "<script",
                "onerror",
                "javascript:",
                "<iframe",
                "<style",
                "<form",
                "<input",
                "onclick",
                "<object",
                "<embed",
                "<meta",
                "data:text",
                "style=",
                "<img",
                "tracker.example",
            ] {
                assert!(
                    !html.contains(banned),
                    "{body:?} left {banned:?} in {html:?}"
                );
            }
        }
    }
}
