//! `report.md`: the same content as the HTML page in GitHub-flavoured Markdown.

use std::fmt::Write as _;

use super::ReportLayout;
use crate::topics::Trend;

/// Markdown-safe inline text from a digest: Markdown punctuation is backslash-escaped and HTML
/// is written as entities, so no field can open a tag (report.md is also read as HTML inside
/// `<details>`), a link, a table cell or emphasis; newlines become spaces.
pub(crate) fn md(s: &str) -> String {
    let s = crate::text::printable(s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\n' | '\r' => o.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '#' | '!' | '~' => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o
}

/// The paper's title as a link when it has a web link (the parser keeps no other), as plain
/// text otherwise.
fn link(v: &ReportLayout<'_>, row: usize) -> String {
    let p = &v.input.index.paper(row);
    let mut s = match super::web_link(&p.url) {
        Some(url) => format!("[{}](<{url}>)", md(&p.title)),
        None => md(&p.title),
    };
    if let Some(meta) = super::paper_meta(p) {
        let _ = write!(s, " ({})", md(&meta));
    }
    s
}

fn trend_word(t: Trend) -> &'static str {
    match t {
        Trend::Rising => "↑ rising",
        Trend::Falling => "↓ falling",
        Trend::Steady => "steady",
    }
}

/// The whole Markdown report.
pub(crate) fn render(v: &ReportLayout<'_>) -> String {
    let topics = &v.input.topics;
    let index = v.input.index;
    let mut s = String::new();
    let _ = writeln!(s, "# A map of research\n");
    let _ = writeln!(
        s,
        "**{}** papers from **{}** to **{}**, grouped into **{}** topics: k-means (k-means++, {}, \
         seed {}, objective {:.1}) over {}-dimensional {} embeddings ({}, {}); keywords by {}. Trends \
         compare each topic's share in the last {} days against before.\n",
        index.len(),
        v.first_date.as_deref().unwrap_or("?"),
        v.last_date.as_deref().unwrap_or("?"),
        topics.topics.len(),
        super::plural(topics.runs, "run", "runs"),
        topics.seed,
        topics.objective,
        index.dim(),
        index.manifest().model_id,
        index.manifest().text_recipe.name(),
        index.manifest().mode,
        topics.keyword_method,
        topics.recent_days
    );
    let _ = writeln!(s, "![Map of the papers, coloured by topic](map.svg)\n");
    let _ = writeln!(s, "## Topics\n\n| topic | papers | first | last | trend | keywords |\n|---|---:|---|---|---|---|");
    for t in &topics.topics {
        let _ = writeln!(
            s,
            "| [{}](#topic-{}) | {} | {} | {} | {} | {} |",
            md(&t.label),
            t.id,
            t.size,
            t.first_date.as_deref().unwrap_or("?"),
            t.last_date.as_deref().unwrap_or("?"),
            trend_word(t.direction),
            md(&t.keywords.join(", "))
        );
    }
    let coarse = topics.coarse(super::coarse_groups(topics.topics.len()));
    if coarse.len() > 1 {
        let _ = writeln!(
            s,
            "\n## Topic groups\n\nThe topics' merge tree (Ward on the centroids) cut into {} groups.\n",
            coarse.len()
        );
        for g in &coarse {
            let members: Vec<String> = g
                .topics
                .iter()
                .filter_map(|id| topics.topic(*id))
                .map(|t| format!("[{}](#topic-{})", md(&t.label), t.id))
                .collect();
            let _ = writeln!(
                s,
                "- **{}** ({} papers): {}",
                md(&g.label),
                g.size,
                members.join("; ")
            );
        }
    }
    let _ = writeln!(s, "\n## Papers per month\n");
    if topics.topics.len() > super::TIMELINE_TOPICS {
        let _ = writeln!(
            s,
            "The {} largest of {} topics.\n",
            super::TIMELINE_TOPICS,
            topics.topics.len()
        );
    }
    let _ = write!(s, "| topic |");
    for m in &v.months {
        let _ = write!(s, " {} |", &m[2..]);
    }
    let _ = write!(s, "\n|---|");
    for _ in &v.months {
        s.push_str("---:|");
    }
    s.push('\n');
    for t in topics.topics.iter().take(super::TIMELINE_TOPICS) {
        let _ = write!(s, "| {} |", md(&t.label));
        for m in &v.months {
            let _ = write!(s, " {} |", t.per_month.get(m).copied().unwrap_or(0));
        }
        s.push('\n');
    }
    if let Some(c) = v.input.summary_check {
        let _ = writeln!(
            s,
            "\n## Summaries that may not describe their paper\n\n{} of {} papers have a \
             title-to-summary similarity far below the archive's (median {:.3}; flagged below {:.3}, or below {:.3} among summaries \
             that do not match their titles either).\n",
            c.outliers.len(),
            c.papers,
            c.median,
            c.threshold,
            c.suspect_threshold
        );
        if let Some(note) = super::placed_note(topics) {
            let _ = writeln!(s, "{note}\n");
        }
        for o in c.outliers.iter().take(super::FLAGGED_SHOWN) {
            let _ = writeln!(s, "- {} — similarity {:.3}", link(v, o.row), o.similarity);
        }
        if c.outliers.len() > super::FLAGGED_SHOWN {
            let _ = writeln!(
                s,
                "- … and {} more (`papermap stats DIGESTS --index DIR` lists them all)",
                c.outliers.len() - super::FLAGGED_SHOWN
            );
        }
    }
    for (i, t) in topics.topics.iter().enumerate() {
        let _ = writeln!(
            s,
            "\n<a id=\"topic-{}\"></a>\n## {}\n\n{} papers, {} to {}, {} (recent share ×{:.2}).\n\n**Keywords:** {}\n",
            t.id,
            md(&t.label),
            t.size,
            t.first_date.as_deref().unwrap_or("?"),
            t.last_date.as_deref().unwrap_or("?"),
            trend_word(t.direction),
            t.trend,
            md(&t.keywords.join(", "))
        );
        let _ = writeln!(s, "**Representative papers**\n");
        for &r in &t.representative {
            let _ = writeln!(s, "1. {}", link(v, r));
        }
        if !t.top_voted.is_empty() {
            let _ = writeln!(s, "\n**Most voted**\n");
            for &r in &t.top_voted {
                let _ = writeln!(s, "1. {}", link(v, r));
            }
        }
        if !t.over_time.is_empty() {
            let _ = writeln!(
                s,
                "\n**Keywords over time**\n\n| period | papers | keywords |\n|---|---:|---|"
            );
            for p in &t.over_time {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    md(&p.period),
                    p.papers,
                    md(&p.keywords.join(" · "))
                );
            }
        }
        let far: Vec<&crate::topics::Outlier> = topics
            .outliers
            .iter()
            .filter(|o| o.topic == t.id)
            .take(5)
            .collect();
        if !far.is_empty() {
            let _ = writeln!(s, "\n**Far from every topic**\n");
            for o in far {
                let _ = writeln!(s, "1. {} (z {:.1})", link(v, o.row), o.z);
            }
        }
        let near: Vec<String> = v.nearest_topics[i]
            .iter()
            .map(|&(j, c)| {
                format!(
                    "[{}](#topic-{}) ({c:.2})",
                    md(&topics.topics[j].label),
                    topics.topics[j].id
                )
            })
            .collect();
        let _ = writeln!(s, "\n**Nearest topics:** {}", near.join(", "));
    }
    if !v.related_rows.is_empty() {
        let _ = writeln!(s, "\n## Related papers\n");
        for &r in &v.related_rows {
            let _ = writeln!(
                s,
                "<details><summary>{}</summary>\n",
                // An HTML block: entities, not Markdown escapes, are what renders there.
                super::esc(&index.paper(r).title)
            );
            for hit in v.input.related[r].iter().take(super::RELATED_PER_PAPER) {
                let _ = writeln!(s, "1. {} — {:.3}", link(v, hit.row), hit.score);
            }
            let _ = writeln!(s, "\n</details>");
        }
    }
    let _ = writeln!(
        s,
        "\n---\nMade by papermap. Digests: l-yohai/daily_papers_ko, CC BY-NC-ND 4.0."
    );
    s
}
