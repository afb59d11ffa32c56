//! The self-contained HTML page and the SVG charts it inlines.

use std::fmt::Write as _;

use super::{colour, esc, ReportLayout};
use crate::topics::Trend;

/// The report's stylesheet (the daily brief uses it too).
pub(crate) const CSS: &str = r#"
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans KR",sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:32px 0 8px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 4px;color:#445}
.overview{color:#445}.muted{color:#778}.kw{display:inline-block;background:#eef1f6;border-radius:10px;padding:0 8px;margin:2px;font-size:13px}
.topic{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:4px 18px 12px;margin:18px 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px}
.rising{color:#0a7d33;font-weight:600}.falling{color:#b3261e;font-weight:600}.steady{color:#778}
ol{margin:4px 0 4px 20px;padding:0}li{margin:2px 0}a{color:#1f5fbf;text-decoration:none}a:hover{text-decoration:underline}
svg text{font-family:inherit}details{margin:2px 0}summary{cursor:pointer}
nav ol{columns:2;font-size:14px}table{border-collapse:collapse;font-size:14px}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
.map circle{stroke:#fff;stroke-width:.3}.map circle:hover{stroke:#000;stroke-width:1.5}
"#;

fn paper_link(v: &ReportLayout<'_>, row: usize) -> String {
    let p = &v.input.index.paper(row);
    let mut s = match super::web_link(&p.url) {
        Some(url) => format!("<a href=\"{}\">{}</a>", esc(url), esc(&p.title)),
        None => esc(&p.title),
    };
    if let Some(meta) = super::paper_meta(p) {
        let _ = write!(s, " <span class=\"muted\">({})</span>", esc(&meta));
    }
    s
}

fn trend_html(t: Trend, ratio: f64) -> String {
    let (class, word) = match t {
        Trend::Rising => ("rising", "rising"),
        Trend::Falling => ("falling", "falling"),
        Trend::Steady => ("steady", "steady"),
    };
    format!("<span class=\"{class}\">{word}</span> <span class=\"muted\">(recent share ×{ratio:.2})</span>")
}

/// The map as SVG; `standalone` adds the XML namespace header for a separate `.svg` file.
pub(crate) fn map_svg(v: &ReportLayout<'_>, standalone: bool) -> String {
    let (w, h, pad) = (1000.0f32, 640.0f32, 20.0f32);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"map\" {}viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"map of {} papers\">",
        if standalone { "xmlns=\"http://www.w3.org/2000/svg\" " } else { "" },
        v.map_rows.len()
    );
    let _ = write!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>");
    let r = if v.map_rows.len() > 5000 { 2.0 } else { 3.5 };
    let topics = &v.input.topics.topics;
    for (&row, &(x, y)) in v.map_rows.iter().zip(&v.map_xy) {
        let p = &v.input.index.paper(row);
        let t = v.topic_of_row[row];
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{}\"><title>{} ({}) — {}</title></circle>",
            pad + x * (w - 2.0 * pad),
            pad + (1.0 - y) * (h - 2.0 * pad),
            colour(t),
            esc(&p.title),
            esc(p.date.as_deref().unwrap_or("no date")),
            esc(&topics[t].label)
        );
    }
    // Largest topics first; a label that would overlap one already drawn is left out (its
    // points still say their topic on hover): a hundred topics' labels are otherwise a blot.
    let mut placed: Vec<(f32, f32, f32, f32)> = Vec::new();
    for (t, &(x, y)) in v.label_xy.iter().enumerate() {
        // Labels near an edge grow inwards so they are never clipped.
        let anchor = match x {
            x if x < 0.2 => "start",
            x if x > 0.8 => "end",
            _ => "middle",
        };
        let (cx, cy) = (pad + x * (w - 2.0 * pad), pad + (1.0 - y) * (h - 2.0 * pad));
        let width = topics[t].label.chars().count() as f32 * 8.0;
        let left = match anchor {
            "start" => cx,
            "end" => cx - width,
            _ => cx - width / 2.0,
        };
        let b = (left, cy - 14.0, left + width, cy + 4.0);
        if placed
            .iter()
            .any(|p| b.0 < p.2 && p.0 < b.2 && b.1 < p.3 && p.1 < b.3)
        {
            continue;
        }
        placed.push(b);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-size=\"13\" font-weight=\"600\" \
             fill=\"#1d2330\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            pad + x * (w - 2.0 * pad),
            pad + (1.0 - y) * (h - 2.0 * pad),
            esc(&topics[t].label)
        );
    }
    s.push_str("</svg>");
    s
}

fn sizes_svg(v: &ReportLayout<'_>) -> String {
    let topics = &v.input.topics.topics;
    let max = topics.iter().map(|t| t.size).max().unwrap_or(1).max(1) as f32;
    let (row_h, label_w, bar_w) = (22.0f32, 330.0f32, 560.0f32);
    let h = row_h * topics.len() as f32 + 10.0;
    let mut s = format!(
        "<svg viewBox=\"0 0 {} {h}\" width=\"100%\">",
        label_w + bar_w + 70.0
    );
    for (i, t) in topics.iter().enumerate() {
        let y = 5.0 + i as f32 * row_h;
        let len = bar_w * t.size as f32 / max;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"13\">{}</text>\
             <rect x=\"{}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{}\" rx=\"3\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#556\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            esc(&t.label),
            label_w,
            y + 2.0,
            row_h - 6.0,
            colour(i),
            label_w + len + 6.0,
            y + 15.0,
            t.size
        );
    }
    s.push_str("</svg>");
    s
}

/// The line above the papers-per-month chart when it shows only the largest topics.
fn timeline_note(k: usize) -> String {
    if k > super::TIMELINE_TOPICS {
        format!(
            "<p class=\"muted\">The {} largest of {k} topics.</p>",
            super::TIMELINE_TOPICS
        )
    } else {
        String::new()
    }
}

/// Papers per month per topic as a heat map: one row per topic, one column per month.
fn timeline_svg(v: &ReportLayout<'_>) -> String {
    let topics = &v.input.topics.topics;
    let months = &v.months;
    let (cell_w, cell_h, label_w, top) = (
        (640.0 / months.len().max(1) as f32).min(40.0),
        20.0f32,
        330.0f32,
        50.0f32,
    );
    let max = topics
        .iter()
        .flat_map(|t| t.per_month.values().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f32;
    let w = label_w + cell_w * months.len() as f32 + 10.0;
    let topics = &topics[..topics.len().min(super::TIMELINE_TOPICS)];
    let h = top + cell_h * topics.len() as f32 + 5.0;
    // Natural size, shrunk only to fit: a short archive must not blow the cells up to page width.
    let mut s =
        format!("<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" style=\"max-width:100%;height:auto\">");
    for (j, m) in months.iter().enumerate() {
        let x = label_w + j as f32 * cell_w + cell_w / 2.0;
        let _ = write!(
            s,
            "<text transform=\"translate({x:.1},{}) rotate(-60)\" font-size=\"10\" fill=\"#556\">{}</text>",
            top - 4.0,
            esc(m)
        );
    }
    for (i, t) in topics.iter().enumerate() {
        let y = top + i as f32 * cell_h;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            label_w - 8.0,
            y + 14.0,
            esc(&t.label)
        );
        for (j, m) in months.iter().enumerate() {
            let c = t.per_month.get(m).copied().unwrap_or(0);
            if c == 0 {
                continue;
            }
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\" fill-opacity=\"{:.2}\">\
                 <title>{}: {c} papers in {}</title></rect>",
                label_w + j as f32 * cell_w,
                cell_w - 1.0,
                cell_h - 2.0,
                colour(i),
                0.15 + 0.85 * c as f32 / max,
                esc(&t.label),
                esc(m)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The whole of `report.html`: one self-contained document, stylesheet and charts inline.
pub(crate) fn render(v: &ReportLayout<'_>) -> String {
    let input = v.input;
    let topics = &input.topics;
    let index = input.index;
    let mut s = String::with_capacity(1 << 20);
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>papermap — {} papers, {} topics</title><style>{CSS}</style></head><body><main>",
        index.len(),
        topics.topics.len()
    );
    let _ = write!(s, "<h1>A map of research</h1><p class=\"overview\">");
    let _ = write!(
        s,
        "<b>{}</b> papers from <b>{}</b> to <b>{}</b>, grouped into <b>{}</b> topics.",
        index.len(),
        esc(v.first_date.as_deref().unwrap_or("?")),
        esc(v.last_date.as_deref().unwrap_or("?")),
        topics.topics.len()
    );
    let _ = write!(
        s,
        " Topics are k-means clusters (k-means++, {}, seed {}, objective {:.1}) of the \
         {}-dimensional {} embeddings of {} ({}); keywords by {}.",
        super::plural(topics.runs, "run", "runs"),
        topics.seed,
        topics.objective,
        index.dim(),
        esc(&index.manifest().model_id),
        esc(index.manifest().text_recipe.name()),
        esc(index.manifest().mode.as_str()),
        esc(&topics.keyword_method)
    );
    if let Some(a) = &topics.auto {
        let _ = write!(s, " k = {} was chosen by {}.", a.chosen, esc(&a.criterion));
    }
    let _ = write!(
        s,
        " Trends compare each topic's share in the last {} days against before.</p>",
        topics.recent_days
    );
    s.push_str("<nav><ol>");
    for (i, t) in topics.topics.iter().enumerate() {
        let _ = write!(
            s,
            "<li><span class=\"swatch\" style=\"background:{}\"></span><a href=\"#topic-{}\">{}</a> \
             <span class=\"muted\">{}</span></li>",
            colour(i),
            t.id,
            esc(&t.label),
            t.size
        );
    }
    s.push_str("</ol></nav>");
    let _ = write!(
        s,
        "<h2 id=\"map\">Map</h2><p class=\"muted\">Each dot is a paper ({} drawn{}), placed by {}; \
         hover for title and date.</p>{}",
        v.map_rows.len(),
        if v.map_rows.len() < index.len() {
            format!(" of {}, an even sample within each topic", index.len())
        } else {
            String::new()
        },
        esc(&super::map_method(v)),
        map_svg(v, false)
    );
    let _ = write!(s, "<h2 id=\"sizes\">Topic sizes</h2>{}", sizes_svg(v));
    let coarse = topics.coarse(super::coarse_groups(topics.topics.len()));
    if coarse.len() > 1 {
        let _ = write!(
            s,
            "<h2 id=\"hierarchy\">Topic groups</h2><p class=\"muted\">The topics' merge tree \
             (Ward on the centroids) cut into {} groups; <code>papermap topics --merge-to N</code> \
             gives another cut.</p><ol>",
            coarse.len()
        );
        for g in &coarse {
            let _ = write!(
                s,
                "<li><b>{}</b> <span class=\"muted\">{} papers</span>: ",
                esc(&g.label),
                g.size
            );
            let links: Vec<String> = g
                .topics
                .iter()
                .filter_map(|id| topics.topic(*id))
                .map(|t| format!("<a href=\"#topic-{}\">{}</a>", t.id, esc(&t.label)))
                .collect();
            s.push_str(&links.join("; "));
            s.push_str("</li>");
        }
        s.push_str("</ol>");
    }
    let _ = write!(
        s,
        "<h2 id=\"timeline\">Papers per month</h2>{}{}",
        timeline_note(v.input.topics.topics.len()),
        timeline_svg(v)
    );

    if let Some(c) = input.summary_check {
        let _ = write!(
            s,
            "<h2 id=\"summary-check\">Summaries that may not describe their paper</h2>\
             <p>{} of {} papers have a title-to-summary similarity far below the archive's \
             (median {:.3}; flagged below {:.3}, or below {:.3} among summaries that do not match \
             their titles either).</p><ol>",
            c.outliers.len(),
            c.papers,
            c.median,
            c.threshold,
            c.suspect_threshold
        );
        if let Some(note) = super::placed_note(topics) {
            // The list is open: the note goes before it.
            s.truncate(s.len() - "<ol>".len());
            let _ = write!(s, "<p>{}</p><ol>", super::esc(&note));
        }
        for o in c.outliers.iter().take(super::FLAGGED_SHOWN) {
            let _ = write!(
                s,
                "<li>{} <span class=\"muted\">similarity {:.3}</span></li>",
                paper_link(v, o.row),
                o.similarity
            );
        }
        s.push_str("</ol>");
        if c.outliers.len() > super::FLAGGED_SHOWN {
            let _ = write!(
                s,
                "<p class=\"muted\">… and {} more (<code>papermap stats DIGESTS --index DIR</code> lists them all).</p>",
                c.outliers.len() - super::FLAGGED_SHOWN
            );
        }
    }

    s.push_str("<h2 id=\"topics\">Topics</h2>");
    for (i, t) in topics.topics.iter().enumerate() {
        let _ = write!(
            s,
            "<section class=\"topic\" id=\"topic-{}\"><h2><span class=\"swatch\" style=\"background:{}\"></span>{}</h2>\
             <p>{} papers, {} to {}; {}</p><p>",
            t.id,
            colour(i),
            esc(&t.label),
            t.size,
            esc(t.first_date.as_deref().unwrap_or("?")),
            esc(t.last_date.as_deref().unwrap_or("?")),
            trend_html(t.direction, t.trend)
        );
        for k in &t.keywords {
            let _ = write!(s, "<span class=\"kw\">{}</span>", esc(k));
        }
        s.push_str("</p><h3>Representative papers</h3><ol>");
        for &r in &t.representative {
            let _ = write!(s, "<li>{}</li>", paper_link(v, r));
        }
        s.push_str("</ol>");
        if !t.top_voted.is_empty() {
            s.push_str("<h3>Most voted</h3><ol>");
            for &r in &t.top_voted {
                let _ = write!(s, "<li>{}</li>", paper_link(v, r));
            }
            s.push_str("</ol>");
        }
        if !t.over_time.is_empty() {
            s.push_str("<h3>Keywords over time</h3><table><tr><th>period</th><th>papers</th><th>keywords</th></tr>");
            for p in &t.over_time {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&p.period),
                    p.papers,
                    esc(&p.keywords.join(" · "))
                );
            }
            s.push_str("</table>");
        }
        let far: Vec<&crate::topics::Outlier> = topics
            .outliers
            .iter()
            .filter(|o| o.topic == t.id)
            .take(5)
            .collect();
        if !far.is_empty() {
            s.push_str("<h3>Far from every topic</h3><ol>");
            for o in far {
                let _ = write!(
                    s,
                    "<li>{} <span class=\"muted\">z {:.1}</span></li>",
                    paper_link(v, o.row),
                    o.z
                );
            }
            s.push_str("</ol>");
        }
        s.push_str("<h3>Nearest topics</h3><p>");
        for &(j, c) in &v.nearest_topics[i] {
            let u = &topics.topics[j];
            let _ = write!(
                s,
                "<a href=\"#topic-{}\">{}</a> <span class=\"muted\">({c:.2})</span> ",
                u.id,
                esc(&u.label)
            );
        }
        s.push_str("</p></section>");
    }

    if !v.related_rows.is_empty() {
        let _ = write!(
            s,
            "<h2 id=\"related\">Related papers</h2><p class=\"muted\">The {} most similar papers of \
             each paper{}.</p>",
            super::RELATED_PER_PAPER,
            if v.related_rows.len() < index.len() {
                format!(" ({} papers listed: the most voted, then the most recent)", v.related_rows.len())
            } else {
                String::new()
            }
        );
        for &r in &v.related_rows {
            let _ = write!(s, "<details><summary>{}</summary><ol>", paper_link(v, r));
            for hit in input.related[r].iter().take(super::RELATED_PER_PAPER) {
                let _ = write!(
                    s,
                    "<li>{} <span class=\"muted\">{:.3}</span></li>",
                    paper_link(v, hit.row),
                    hit.score
                );
            }
            s.push_str("</ol></details>");
        }
    }
    s.push_str("<p class=\"muted\">Made by papermap. Digests: l-yohai/daily_papers_ko, CC BY-NC-ND 4.0.</p></main></body></html>\n");
    s
}
