//! `brief.md` and `brief.html` from a [`Brief`].
//!
//! Every digest field goes through the report's helpers: [`crate::report::esc`] (HTML entities)
//! and [`crate::report::md`] (Markdown escapes and entities) for text, and
//! [`crate::report::web_link`] for links, so a hostile title or link is as harmless here as in
//! the report. The page is self-contained: the report's stylesheet inline, no script, no
//! network, topic colours as in the report.

use std::fmt::Write as _;

use super::alerts::{Alert, Reason};
use super::{Brief, DayPaper, PaperRef, TopicRef, RELATED_PER_PAPER};
use crate::report::{colour, date_votes, esc, md, web_link, CSS};
use crate::topics::OUTLIER_Z;

/// Rules the report's stylesheet lacks.
const BRIEF_CSS: &str = ".day>li{margin:10px 0}.related{font-size:13px;color:#445;margin:2px 0 0}\
.related ol{margin:0 0 0 18px}.badge{display:inline-block;background:#fff3d6;color:#7a4b00;\
border-radius:10px;padding:0 8px;margin-left:4px;font-size:12px}.score{color:#778;font-size:12px}";

/// One sentence on what the brief covers, shared by both formats (plain text, no markup).
fn overview(b: &Brief) -> String {
    let related = if b.earlier_papers == 0 {
        "No paper of the index is dated before this day, so none has related earlier papers."
            .to_string()
    } else {
        format!(
            "Related papers are the {RELATED_PER_PAPER} nearest by cosine among the {} papers \
             dated before this day.",
            b.earlier_papers
        )
    };
    format!(
        "{} first appeared on {}, in {} of the {} topics. {related} Trends compare each topic's \
         share in the {} days up to {} with its share before.",
        plural(b.papers.len(), "paper", "papers"),
        b.date,
        b.by_topic().len(),
        b.topics,
        b.recent_days,
        window_end(b)
    )
}

/// The last day of the trends' window.
fn window_end(b: &Brief) -> &str {
    b.archive_last_date
        .as_deref()
        .unwrap_or("the archive's last date")
}

fn outlier_rule() -> String {
    format!(
        "Papers of the day far from their topic's centroid: perhaps a subject the archive does not \
         have yet. A paper is listed when the robust z-score (median and MAD of its topic's \
         distances) of its distance to the centroid is above {OUTLIER_Z}, the rule the topics \
         stage and the report use."
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Why an alert is listed, as plain text with `title` rendering the paper it names.
fn reasons(
    a: &Alert,
    title: impl Fn(&PaperRef) -> String,
    text: impl Fn(&str) -> String,
) -> String {
    a.reasons
        .iter()
        .map(|r| match r {
            Reason::Recommended { margin, near } => {
                format!("recommended (margin {margin:.2}), near {}", title(near))
            }
            Reason::Search { query } => format!("saved search “{}”", text(query)),
            Reason::Author { name } => format!("by {}", text(name)),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The line under "For you" when the library points at nothing of the day.
fn no_alerts(b: &Brief) -> String {
    format!(
        "Nothing of {} matches library “{}”: no recommended paper, saved search or followed author.",
        b.date,
        b.library.as_deref().unwrap_or_default()
    )
}

// ---------------------------------------------------------------- Markdown

fn link_md(p: &PaperRef) -> String {
    let mut s = match web_link(&p.url) {
        Some(url) => format!("[{}](<{url}>)", md(&p.title)),
        None => md(&p.title),
    };
    if let Some(meta) = date_votes(p.date.as_deref(), p.votes) {
        let _ = write!(s, " ({})", md(&meta));
    }
    s
}

fn topic_md(t: &TopicRef) -> String {
    format!("{} (topic {})", md(&t.label), t.id)
}

/// The whole `brief.md`: overview, rising topics, papers fitting no topic, then the day's
/// papers by topic.
pub fn markdown(b: &Brief) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Daily brief: {}\n", md(&b.date));
    let _ = writeln!(s, "{}\n", md(&overview(b)));

    if b.library.is_some() {
        let _ = writeln!(s, "## For you\n");
        if b.alerts.is_empty() {
            let _ = writeln!(s, "{}\n", md(&no_alerts(b)));
        }
        for (i, a) in b.alerts.iter().enumerate() {
            let why = reasons(a, |p| md(&p.title), md);
            let _ = writeln!(s, "{}. {} — {why}", i + 1, link_md(&a.paper));
        }
        if !b.alerts.is_empty() {
            s.push('\n');
        }
    }

    let _ = writeln!(s, "## Rising topics\n");
    if b.rising.is_empty() {
        let _ = writeln!(
            s,
            "No topic's share grew significantly (z ≥ 1.96) in the {} days up to {}.\n",
            b.recent_days,
            md(window_end(b))
        );
    }
    for r in &b.rising {
        let _ = writeln!(s, "### {}\n", topic_md(&r.topic));
        let _ = writeln!(
            s,
            "↑ rising: recent share ×{:.2} (z {:.2}); {} of its {} papers in the {} days up to {}, \
             {} on this day. Keywords: {}\n",
            r.share_ratio,
            r.z,
            r.recent,
            r.size,
            b.recent_days,
            md(window_end(b)),
            r.today,
            md(&r.keywords.join(" · "))
        );
        for (i, p) in r.papers.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", i + 1, link_md(p));
        }
        s.push('\n');
    }

    let _ = writeln!(s, "## Fitting no topic well\n");
    let _ = writeln!(s, "{}\n", md(&outlier_rule()));
    if b.outliers.is_empty() {
        let _ = writeln!(s, "Every paper of the day fits its topic.\n");
    }
    for (i, o) in b.outliers.iter().enumerate() {
        let _ = writeln!(
            s,
            "{}. {}: put in {}, z {:.1}",
            i + 1,
            link_md(&o.paper),
            topic_md(&o.topic),
            o.z
        );
    }
    if !b.outliers.is_empty() {
        s.push('\n');
    }

    let _ = writeln!(s, "## The day's papers by topic\n");
    for (t, papers) in b.by_topic() {
        let _ = writeln!(
            s,
            "### {}: {}\n",
            topic_md(t),
            plural(papers.len(), "paper", "papers")
        );
        for (i, p) in papers.iter().enumerate() {
            let _ = write!(s, "{}. {}", i + 1, link_md(&p.paper));
            if let Some(z) = p.outlier_z {
                let _ = write!(s, " *far from its topic (z {z:.1})*");
            }
            s.push('\n');
            if p.related.is_empty() {
                let _ = writeln!(s, "   - no earlier paper");
            }
            for r in &p.related {
                let _ = writeln!(s, "   - earlier: {} · {:.3}", link_md(&r.paper), r.score);
            }
        }
        s.push('\n');
    }
    s
}

// ---------------------------------------------------------------- HTML

fn link_html(p: &PaperRef) -> String {
    let mut s = match web_link(&p.url) {
        Some(url) => format!("<a href=\"{}\">{}</a>", esc(url), esc(&p.title)),
        None => esc(&p.title),
    };
    if let Some(meta) = date_votes(p.date.as_deref(), p.votes) {
        let _ = write!(s, " <span class=\"muted\">({})</span>", esc(&meta));
    }
    s
}

fn swatch(t: &TopicRef) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>",
        colour(t.position)
    )
}

fn day_paper_html(s: &mut String, p: &DayPaper) {
    let _ = write!(s, "<li>{}", link_html(&p.paper));
    if let Some(z) = p.outlier_z {
        let _ = write!(
            s,
            "<span class=\"badge\" title=\"robust z of the distance to its topic's centroid\">far from its topic · z {z:.1}</span>"
        );
    }
    s.push_str("<div class=\"related\">");
    if p.related.is_empty() {
        s.push_str("<span class=\"muted\">No earlier paper.</span>");
    } else {
        s.push_str("Earlier and related:<ol>");
        for r in &p.related {
            let _ = write!(
                s,
                "<li>{} <span class=\"score\">cos {:.3}</span></li>",
                link_html(&r.paper),
                r.score
            );
        }
        s.push_str("</ol>");
    }
    s.push_str("</div></li>");
}

/// The whole `brief.html`: the sections of [`markdown`] as one page, the report's stylesheet
/// inlined.
pub fn html(b: &Brief) -> String {
    let groups = b.by_topic();
    let mut s = String::with_capacity(64 << 10);
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>papermap — daily brief {}</title><style>{CSS}{BRIEF_CSS}</style></head><body><main>",
        esc(&b.date)
    );
    let _ = write!(
        s,
        "<h1>Daily brief: {}</h1><p class=\"overview\">{}</p>",
        esc(&b.date),
        esc(&overview(b))
    );
    // "For you" first, as the page shows it, when the brief was made for a library.
    let for_you = if b.library.is_some() {
        format!(
            "<a href=\"#for-you\">For you</a> <span class=\"muted\">{}</span> · ",
            b.alerts.len()
        )
    } else {
        String::new()
    };
    let _ = write!(
        s,
        "<p>Jump to: {for_you}<a href=\"#rising\">Rising topics</a> <span class=\"muted\">{}</span> · \
         <a href=\"#no-topic\">Fitting no topic well</a> <span class=\"muted\">{}</span> · \
         <a href=\"#papers\">The day's papers by topic</a></p><nav><ol>",
        b.rising.len(),
        b.outliers.len()
    );
    for (t, papers) in &groups {
        let _ = write!(
            s,
            "<li>{}<a href=\"#topic-{}\">{}</a> <span class=\"muted\">{}</span></li>",
            swatch(t),
            t.id,
            esc(&t.label),
            papers.len()
        );
    }
    s.push_str("</ol></nav>");

    if b.library.is_some() {
        s.push_str("<h2 id=\"for-you\">For you</h2>");
        if b.alerts.is_empty() {
            let _ = write!(s, "<p class=\"muted\">{}</p>", esc(&no_alerts(b)));
        } else {
            s.push_str("<ol class=\"day\">");
            for a in &b.alerts {
                let why = reasons(a, link_html, esc);
                let _ = write!(
                    s,
                    "<li>{}<div class=\"related\">{why}</div></li>",
                    link_html(&a.paper)
                );
            }
            s.push_str("</ol>");
        }
    }

    s.push_str("<h2 id=\"rising\">Rising topics</h2>");
    if b.rising.is_empty() {
        let _ = write!(
            s,
            "<p class=\"muted\">No topic's share grew significantly (z ≥ 1.96) in the {} days up to {}.</p>",
            b.recent_days,
            esc(window_end(b))
        );
    }
    for r in &b.rising {
        let _ = write!(
            s,
            "<section class=\"topic\"><h3>{}{} <span class=\"muted\">topic {}</span></h3>\
             <p><span class=\"rising\">rising</span> <span class=\"muted\">recent share ×{:.2}, z {:.2}</span>: \
             {} of its {} papers in the {} days up to {}, {} on this day.</p><p>",
            swatch(&r.topic),
            esc(&r.topic.label),
            r.topic.id,
            r.share_ratio,
            r.z,
            r.recent,
            r.size,
            b.recent_days,
            esc(window_end(b)),
            r.today
        );
        for k in &r.keywords {
            let _ = write!(s, "<span class=\"kw\">{}</span>", esc(k));
        }
        s.push_str("</p><h3>Its latest papers</h3><ol>");
        for p in &r.papers {
            let _ = write!(s, "<li>{}</li>", link_html(p));
        }
        s.push_str("</ol></section>");
    }

    let _ = write!(
        s,
        "<h2 id=\"no-topic\">Fitting no topic well</h2><p class=\"muted\">{}</p>",
        esc(&outlier_rule())
    );
    if b.outliers.is_empty() {
        s.push_str("<p>Every paper of the day fits its topic.</p>");
    } else {
        s.push_str("<ol>");
        for o in &b.outliers {
            let _ = write!(
                s,
                "<li>{} <span class=\"muted\">put in</span> {}<a href=\"#topic-{}\">{}</a> \
                 <span class=\"badge\">z {:.1}</span></li>",
                link_html(&o.paper),
                swatch(&o.topic),
                o.topic.id,
                esc(&o.topic.label),
                o.z
            );
        }
        s.push_str("</ol>");
    }

    s.push_str("<h2 id=\"papers\">The day's papers by topic</h2>");
    for (t, papers) in &groups {
        let _ = write!(
            s,
            "<section class=\"topic\" id=\"topic-{}\"><h2>{}{} <span class=\"muted\">{} · topic {}</span></h2><ol class=\"day\">",
            t.id,
            swatch(t),
            esc(&t.label),
            plural(papers.len(), "paper", "papers"),
            t.id
        );
        for p in papers {
            day_paper_html(&mut s, p);
        }
        s.push_str("</ol></section>");
    }
    s.push_str("<p class=\"muted\">Made by papermap. Digests: l-yohai/daily_papers_ko, CC BY-NC-ND 4.0.</p></main></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::{Outlier, Related, RisingTopic};
    use super::*;

    fn paper(row: usize, title: &str, url: &str, date: &str) -> PaperRef {
        PaperRef {
            row,
            arxiv_id: format!("2502.{row:05}"),
            title: title.into(),
            url: url.into(),
            date: Some(date.into()),
            votes: Some(3),
        }
    }

    fn hostile() -> Brief {
        let topic = TopicRef {
            id: 7,
            label: "<b>label</b> · \"x\"".into(),
            position: 1,
        };
        let bad = paper(
            0,
            "<script>alert('t')</script> *bold* [x](y)",
            "javascript:alert(1)",
            "2025-02-21",
        );
        let quote = paper(
            1,
            "Quote & <img src=x onerror=alert(1)>",
            "https://arxiv.org/abs/2502.1\"onmouseover=\"x",
            "2025-02-21",
        );
        let fine = paper(2, "Fine", "https://arxiv.org/abs/2502.00002", "2025-02-20");
        let day = |p: &PaperRef| DayPaper {
            paper: p.clone(),
            topic: topic.clone(),
            related: vec![Related {
                paper: fine.clone(),
                score: 0.5,
            }],
            outlier_z: Some(4.0),
        };
        Brief {
            date: "2025-02-21".into(),
            index_papers: 3,
            earlier_papers: 1,
            topics: 2,
            archive_last_date: Some("2025-02-21".into()),
            recent_days: 30,
            papers: vec![day(&bad), day(&quote)],
            rising: vec![RisingTopic {
                topic: topic.clone(),
                keywords: vec!["<i>kw</i>".into()],
                size: 3,
                recent: 2,
                share_ratio: 2.0,
                z: 2.5,
                today: 2,
                papers: vec![bad.clone()],
            }],
            outliers: vec![Outlier {
                paper: bad.clone(),
                topic,
                z: 4.0,
                distance: 1.0,
            }],
            library: Some("default".into()),
            alerts: vec![Alert {
                paper: bad.clone(),
                reasons: vec![
                    Reason::Recommended {
                        margin: 0.5,
                        near: quote.clone(),
                    },
                    Reason::Search {
                        query: "<script>x</script>".into(),
                    },
                    Reason::Author {
                        name: "<img src=x onerror=alert(2)>".into(),
                    },
                ],
            }],
        }
    }

    #[test]
    fn hostile_fields_are_escaped_as_the_report_escapes_them() {
        let b = hostile();
        let h = html(&b);
        for bad in [
            "<script",
            "javascript:",
            "<img",
            "\"onmouseover",
            "<b>label",
            "<i>kw",
        ] {
            assert!(!h.contains(bad), "{bad} in the page");
        }
        assert!(h.contains(&esc("<script>alert('t')</script> *bold* [x](y)")));
        assert!(h.contains("<a href=\"https://arxiv.org/abs/2502.00002\">Fine</a>"));
        // A title without a safe link is text, not a link.
        assert!(!h.contains("href=\"javascript"));
        let m = markdown(&b);
        for bad in [
            "<script",
            "javascript:",
            "<img",
            "](<https://arxiv.org/abs/2502.1\"",
        ] {
            assert!(!m.contains(bad), "{bad} in the Markdown");
        }
        assert!(m.contains(&md("<script>alert('t')</script> *bold* [x](y)")));
        assert!(m.contains("[Fine](<https://arxiv.org/abs/2502.00002>)"));
    }

    #[test]
    fn every_section_is_rendered_with_its_papers() {
        let b = hostile();
        let h = html(&b);
        assert_eq!(
            h.matches("id=\"topic-7\"").count(),
            1,
            "one group per topic"
        );
        assert_eq!(h.matches("far from its topic").count(), 2);
        assert_eq!(h.matches("cos 0.500").count(), 2);
        assert!(h.contains("class=\"rising\""));
        assert!(h.contains("<h2 id=\"for-you\">For you</h2>"));
        assert!(h.contains("Jump to: <a href=\"#for-you\">For you</a>"));
        assert!(h.contains("recommended (margin 0.50), near "));
        assert!(h.contains("saved search “&lt;script&gt;x&lt;/script&gt;”"));
        assert!(
            h.find("id=\"for-you\"") < h.find("id=\"rising\""),
            "alerts come first"
        );
        assert!(!h.contains("<script"));
        let m = markdown(&b);
        assert!(m.contains("### &lt;b&gt;label&lt;/b&gt; · &quot;x&quot; (topic 7): 2 papers"));
        assert_eq!(m.matches("   - earlier: [Fine]").count(), 2);
        assert!(m.contains("## For you\n\n1. "));
        assert!(
            m.contains("by &lt;img src=x onerror=alert\\(2\\)&gt;"),
            "{m}"
        );
        let quiet = Brief {
            alerts: Vec::new(),
            ..hostile()
        };
        assert!(markdown(&quiet).contains("Nothing of 2025-02-21 matches library “default”"));
        let none = Brief {
            library: None,
            ..hostile()
        };
        assert!(!html(&none).contains("For you"));
        assert!(!html(&none).contains("#for-you"));
    }
}
