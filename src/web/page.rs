//! The page and its files, embedded in the binary: the dashboard loads nothing from the
//! network. uPlot (vendored unchanged from npm in `assets/uplot/`, MIT) and the chart code are
//! the HTML report's (`report::html::interactive`), so both draw the same charts.
const INDEX: &str = include_str!("../../assets/web/index.html");
const APP_JS: &str = include_str!("../../assets/web/app.js");

const STYLE_CSS: &str = include_str!("../../assets/web/style.css");
use crate::report::html::interactive::{CHARTS_JS, UPLOT_CSS, UPLOT_JS};

/// Where the page reads its CSRF token; replaced when the page is served.
const CSRF_SLOT: &str = "{{CSRF}}";

/// The page, carrying this server's CSRF token (hex, so it needs no escaping).
pub fn index(csrf: &str) -> String {
    debug_assert!(csrf.bytes().all(|b| b.is_ascii_hexdigit()));
    INDEX.replace(CSRF_SLOT, csrf)
}

/// The content type and bytes of an embedded file.
pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/charts.js" => ("text/javascript; charset=utf-8", CHARTS_JS),
        "/style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        "/uplot.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "/uplot.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_refers_only_to_its_own_files() {
        let page = index("00ff");
        assert!(page.contains("content=\"00ff\""));
        assert!(!page.contains(CSRF_SLOT));
        for (at, _) in page
            .match_indices("src=\"")
            .chain(page.match_indices("href=\""))
        {
            let rest = &page[at..];
            let value = &rest[rest.find('"').unwrap() + 1..];
            let value = &value[..value.find('"').unwrap()];
            assert!(
                value.starts_with('/') && !value.starts_with("//") || value.starts_with('#'),
                "{value} is not one of the server's own files"
            );
            if value.starts_with('/') && !value.starts_with("/download/") {
                assert!(asset(value).is_some(), "{value} is not served");
            }
        }
        for text in [APP_JS, INDEX] {
            assert!(
                !text.contains("innerHTML"),
                "strings are written as text only"
            );
        }
    }
}
