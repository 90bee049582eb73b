import Foundation

/// HTML text built by the dashboard. Interpolated strings are escaped unless they are `HTML` already,
/// so nothing that came from an upload (annotations, file names, symbol names) can become markup.
struct HTML: CustomStringConvertible, ExpressibleByStringInterpolation {
    private(set) var text: String

    init(raw text: String) { self.text = text }
    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }

    var description: String { text }

    struct Interpolation: StringInterpolationProtocol {
        var text = ""
        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity * 2) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: HTML) { text += value.text }
        mutating func appendInterpolation(_ value: [HTML]) { for item in value { text += item.text } }
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: String?) { text += HTML.escape(value ?? "") }
        mutating func appendInterpolation<T: BinaryInteger>(_ value: T) { text += String(value) }
    }

    /// Escapes text for element content and quoted attribute values.
    static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// Percent-encodes a query parameter value.
    static func query(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// The page frame: title, navigation and the one stylesheet.
func page(title: String, _ content: HTML) -> HTML {
    """
    <!DOCTYPE html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>\(title) · Postmortem</title><style>\(HTML(raw: stylesheet))</style></head>
    <body><header><a class="home" href="/">Postmortem</a> <nav><a href="/">Top crashes</a> <a href="/failed">Failed reports</a> <a href="/search">Search</a></nav></header>
    <main>\(content)</main></body></html>
    """
}

let stylesheet = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
    header{background:#1d2330;color:#fff;padding:.6em 1.2em;display:flex;gap:2em;align-items:baseline}
    header a{color:#fff;text-decoration:none}header .home{font-weight:600;font-size:1.15em}nav a{margin-right:1.2em;opacity:.85}
    main{padding:1em 1.5em;max-width:1300px}h1{font-size:1.35em;margin:.4em 0}h2{font-size:1.1em;margin:1.4em 0 .4em}
    table{border-collapse:collapse;background:#fff;width:100%;margin:.3em 0}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #e3e6ea;vertical-align:top}
    th{background:#eef0f3;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
    code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.92em;word-break:break-all}
    h1.mono{font-size:1.25em}.nowrap{white-space:nowrap;word-break:normal}
    .card{background:#fff;border:1px solid #e3e6ea;padding:.8em 1em;margin:.6em 0}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1.2em;margin:0}dt{color:#5a6272}
    .status-failed{color:#b3261e;font-weight:600}.status-processed{color:#1e7b34}.missing{color:#b3261e}.removed{color:#8a5a00;font-weight:600}.loaded{color:#1e7b34}
    form.filters{display:flex;gap:.8em;flex-wrap:wrap;align-items:end;margin:.5em 0}form.filters label{display:flex;flex-direction:column;font-size:.85em;color:#5a6272}
    .pager{margin:.6em 0}.pager a{margin-right:1em}svg.chart{background:#fff;border:1px solid #e3e6ea}svg.chart rect.bar{fill:#3b6fd4}
    svg.chart text{font-size:11px;fill:#5a6272}details{margin:.3em 0}summary{cursor:pointer}.hint{color:#5a6272;font-size:.9em}
    """

/// A UTC time as `YYYY-MM-DD HH:MM`.
func timeText(_ date: Date) -> String {
    let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
    return String(
        format: "%04d-%02d-%02d %02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0,
        parts.minute ?? 0)
}

/// An inline SVG bar chart of reports per day across `from..<to`, days without reports at zero.
func dailyChart(_ counts: [DayCount], from: Date, to: Date) -> HTML {
    let byDay = Dictionary(counts.map { ($0.day, $0.count) }, uniquingKeysWith: +)
    var days = [String]()
    var day = floor(from.timeIntervalSince1970 / 86400) * 86400
    while day < to.timeIntervalSince1970 && days.count < 400 {
        days.append(SQLiteCrashDatabase.dayText(Date(timeIntervalSince1970: day)))
        day += 86400
    }
    guard !days.isEmpty else { return "" }
    let width = 760
    let height = 140
    let top = 14
    let bottom = 20
    let peak = max(1, days.map { byDay[$0] ?? 0 }.max() ?? 1)
    let slot = Double(width - 40) / Double(days.count)
    var bars = [HTML]()
    for (index, name) in days.enumerated() {
        let count = byDay[name] ?? 0
        let barHeight = Int(Double(height - top - bottom) * Double(count) / Double(peak))
        let x = 30 + Int(Double(index) * slot)
        let y = height - bottom - barHeight
        bars.append(
            """
            <rect class="bar" x="\(x)" y="\(y)" width="\(max(1, Int(slot * 0.8)))" height="\(barHeight)"><title>\(name): \(count)</title></rect>
            """)
    }
    return """
        <svg class="chart" role="img" aria-label="Crashes per day" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
        <text x="4" y="\(top + 4)">\(peak)</text><text x="4" y="\(height - bottom)">0</text>
        <line x1="28" y1="\(height - bottom)" x2="\(width - 8)" y2="\(height - bottom)" stroke="#c4c9d1"/>
        \(bars)
        <text x="30" y="\(height - 5)">\(days.first ?? "")</text><text x="\(width - 80)" y="\(height - 5)">\(days.last ?? "")</text>
        </svg>
        """
}
