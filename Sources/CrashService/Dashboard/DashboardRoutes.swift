import Analysis
import Foundation
import Hummingbird

/// The server-rendered dashboard: top buckets at `/`, `/buckets/{id}`, `/reports/{id}`, `/failed`, `/search`.
struct DashboardRoutes {
    let parts: ServiceParts

    func register(on router: Router<ServiceRequestContext>) {
        router.get("/") { request, _ in try await topBuckets(request) }
        router.get("/buckets/:id") { request, context in try await bucket(try bucketID(context), request: request) }
        router.get("/reports/:id") { _, context in try await report(try reportID(context)) }
        router.get("/failed") { request, _ in try await failed(request) }
        router.get("/search") { request, _ in try await search(request) }
    }

    func html(_ content: HTML) -> Response {
        Response.text(content.text, contentType: "text/html; charset=utf-8")
    }

    func topBuckets(_ request: Request) async throws -> Response {
        let query = try ListQuery(request)
        let buckets = try await parts.database.topBuckets(query.buckets)
        let days = try await parts.database.crashesPerDay(query.buckets, bucketID: nil)
        let queue = try await parts.database.queueDepth(now: Date())
        let rows = buckets.items.enumerated().map { index, bucket -> HTML in
            """
            <tr><td class="num">\(query.page * query.perPage + index + 1)</td><td class="num">\(bucket.count)</td>
            <td><a class="mono" href="/buckets/\(bucket.id)">\(bucket.signature)</a></td>
            <td>\(bucket.versions.joined(separator: ", "))</td><td>\(timeText(bucket.lastSeen))</td></tr>
            """
        }
        let content: HTML = """
            <h1>Top crashes</h1>
            \(filters(query))
            \(dailyChart(days, from: query.from, to: query.to))
            <p class="hint">\(days.reduce(0) { $0 + $1.count }) reports received in this range; queue: \(queue.waiting) waiting, \(queue.leased) in processing.</p>
            <table><tr><th class="num">#</th><th class="num">Reports</th><th>Signature</th><th>Versions</th><th>Last seen (UTC)</th></tr>
            \(rows)</table>
            \(rows.isEmpty ? "<p>No processed reports in this range.</p>" : "")
            \(pager(buckets.page, perPage: buckets.perPage, total: buckets.total, base: "/?" + filterQuery(query)))
            """
        return html(page(title: "Top crashes", content))
    }

    func filters(_ query: ListQuery) -> HTML {
        """
        <form class="filters" method="get" action="/">
        <label>From <input type="date" name="from" value="\(SQLiteCrashDatabase.dayText(query.from))"></label>
        <label>To <input type="date" name="to" value="\(SQLiteCrashDatabase.dayText(query.to.addingTimeInterval(-1)))"></label>
        <label>Product <input name="product" value="\(query.product)"></label>
        <label>Version <input name="version" value="\(query.version)"></label>
        <button type="submit">Show</button></form>
        """
    }

    func filterQuery(_ query: ListQuery) -> String {
        var items = [
            "from=" + SQLiteCrashDatabase.dayText(query.from),
            "to=" + SQLiteCrashDatabase.dayText(query.to.addingTimeInterval(-1)),
        ]
        if let product = query.product { items.append("product=" + HTML.query(product)) }
        if let version = query.version { items.append("version=" + HTML.query(version)) }
        return items.joined(separator: "&")
    }

    /// Previous/next links; `base` ends where `&page=` can be appended.
    func pager(_ page: Int, perPage: Int, total: Int, base: String) -> HTML {
        let pages = max(1, (total + perPage - 1) / perPage)
        guard pages > 1 else { return "" }
        let separator = base.hasSuffix("?") ? "" : "&"
        let previous: HTML = page > 0 ? "<a href=\"\(base + separator)page=\(page)\">← Previous</a>" : ""
        let next: HTML = page + 1 < pages ? "<a href=\"\(base + separator)page=\(page + 2)\">Next →</a>" : ""
        return "<div class=\"pager\">\(previous) Page \(page + 1) of \(pages) \(next)</div>"
    }

    func bucket(_ id: Int64, request: Request) async throws -> Response {
        guard let bucket = try await parts.database.bucket(id: id) else { throw notFound("bucket") }
        let query = try ListQuery(request)
        let reports = try await parts.database.reports(bucketID: id, page: query.page, perPage: query.perPage)
        let chartRange = BucketQuery(from: Date().addingTimeInterval(-30 * 86400), to: Date().addingTimeInterval(60))
        let days = try await parts.database.crashesPerDay(chartRange, bucketID: id)
        func tallies(_ title: String, _ values: [Tally]) -> HTML {
            let rows = values.map { "<tr><td class=\"mono\">\($0.value)</td><td class=\"num\">\($0.count)</td></tr>" as HTML }
            return "<h2>\(title)</h2><table><tr><th>\(title)</th><th class=\"num\">Reports</th></tr>\(rows)</table>"
        }
        let content: HTML = """
            <h1 class="mono">\(bucket.signature)</h1>
            <div class="card"><dl><dt>Reports</dt><dd>\(bucket.reportCount)</dd><dt>First seen</dt><dd>\(timeText(bucket.firstSeen))</dd>
            <dt>Last seen</dt><dd>\(timeText(bucket.lastSeen))</dd></dl></div>
            <h2>Last 30 days</h2>\(dailyChart(days, from: chartRange.from, to: chartRange.to))
            \(tallies("WER bucket", bucket.werBuckets))
            \(tallies("Version", bucket.versions))\(tallies("Product", bucket.products))\(tallies("Platform", bucket.platforms))
            <h2>Reports</h2>\(reportTable(reports.items))
            \(pager(reports.page, perPage: reports.perPage, total: reports.total, base: "/buckets/\(id)?"))
            """
        return html(page(title: bucket.signature, content))
    }

    /// Reports as rows; search results add each one's signature, linked to its bucket.
    func reportTable(_ reports: [ReportRecord], showSignature: Bool = false) -> HTML {
        let rows = reports.map { report -> HTML in
            var signature: HTML = ""
            if showSignature, let bucket = report.bucketID {
                signature = "<td><a class=\"mono\" href=\"/buckets/\(bucket)\">\(report.signature)</a></td>"
            } else if showSignature {
                signature = "<td class=\"mono\">\(report.signature)</td>"
            }
            return """
                <tr><td><a class="mono" href="/reports/\(report.id)">bp-\(report.id)</a></td><td>\(timeText(report.receivedAt))</td>
                <td>\(report.product)</td><td>\(report.version)</td><td class="status-\(report.status.rawValue)">\(report.status.rawValue)</td>
                \(signature)<td>\(report.crashReason ?? report.failure)</td></tr>
                """
        }
        let signatureHeading: HTML = showSignature ? "<th>Signature</th>" : ""
        return """
            <table><tr><th>Report</th><th>Received (UTC)</th><th>Product</th><th>Version</th><th>Status</th>\(signatureHeading)<th>Reason</th></tr>\(rows)</table>
            """
    }

    func failed(_ request: Request) async throws -> Response {
        let query = try ListQuery(request)
        let reports = try await parts.database.reports(status: .failed, page: query.page, perPage: query.perPage)
        let content: HTML = """
            <h1>Failed reports</h1><p class="hint">Dumps the analysis could not read, or that timed out or outlived their workers.</p>
            \(reportTable(reports.items))
            \(pager(reports.page, perPage: reports.perPage, total: reports.total, base: "/failed?"))
            """
        return html(page(title: "Failed reports", content))
    }

    func report(_ id: UUID) async throws -> Response {
        guard let report = try await parts.database.report(id: id.uuidString.lowercased()) else { throw notFound("report") }
        let crash = try await parts.database.processedJSON(reportID: report.id).flatMap {
            try? JSONDecoder().decode(ProcessedCrash.self, from: $0)
        }
        let bucketLink: HTML =
            report.bucketID.map { "<a class=\"mono\" href=\"/buckets/\($0)\">\(report.signature)</a>" } ?? "\(report.signature)"
        var content: HTML = """
            <h1 class="mono">bp-\(report.id)</h1>
            <div class="card"><dl>
            <dt>Status</dt><dd class="status-\(report.status.rawValue)">\(report.status.rawValue)</dd>
            \(report.failure.map { "<dt>Failure</dt><dd>\($0)</dd>" as HTML } ?? "")
            <dt>Received</dt><dd>\(timeText(report.receivedAt)) UTC</dd>
            <dt>Product</dt><dd>\(report.product) \(report.version)</dd>
            <dt>Signature</dt><dd>\(bucketLink)</dd>
            <dt>Crash reason</dt><dd>\(report.crashReason)</dd><dt>Crash address</dt><dd class="mono">\(report.crashAddress)</dd>
            <dt>WER bucket</dt><dd class="mono">\(report.werBucket)</dd><dt>Platform</dt><dd>\(report.platform)</dd>
            <dt>Dump</dt><dd>\(dumpLink(report))</dd>
            </dl></div>
            """
        if let crash { content = "\(content)\(threads(crash))\(modules(crash))" }
        let annotations = report.annotations.sorted { $0.key < $1.key }.map {
            "<tr><td class=\"mono\">\($0.key)</td><td class=\"mono\">\($0.value)</td></tr>" as HTML
        }
        let attachments = report.attachments.map {
            "<tr><td class=\"mono\">\($0.field)</td><td class=\"mono\">\($0.fileName)</td><td class=\"num\">\($0.size)</td></tr>"
                as HTML
        }
        content = """
            \(content)
            <h2>Annotations</h2><table><tr><th>Key</th><th>Value</th></tr>\(annotations)</table>
            \(attachments.isEmpty ? "" : "<h2>Attachments</h2><table><tr><th>Field</th><th>File name</th><th class=\"num\">Bytes</th></tr>\(attachments)</table>")
            """
        return html(page(title: "bp-" + report.id, content))
    }

    /// The download link, or when retention deleted the dump, when that happened instead.
    func dumpLink(_ report: ReportRecord) -> HTML {
        guard let purged = report.dumpPurgedAt else {
            return "<a href=\"/api/reports/\(report.id)/dump\">\(report.id).dmp</a> (\(report.dumpSize) bytes)"
        }
        let attachments: HTML = report.attachments.isEmpty ? "" : " and attachments"
        return """
            <span class="removed">removed by retention on \(timeText(purged)) UTC</span> <span class="hint">(the dump\(attachments) \
            of \(report.dumpSize) bytes; the processed results remain)</span>
            """
    }

    /// `/search`: the form, and the matching reports newest first.
    func search(_ request: Request) async throws -> Response {
        let search = try SearchRequest(request)
        func field(_ name: String, _ label: String, placeholder: String) -> HTML {
            let value = search.fields.first { $0.name == name }?.value
            return "<label>\(label) <input name=\"\(name)\" value=\"\(value)\" placeholder=\"\(placeholder)\"></label>"
        }
        let annotations = search.fields.filter { $0.name == "annotation" }.map(\.value) + [""]
        let annotationFields = annotations.map {
            "<label>Annotation <input name=\"annotation\" value=\"\($0)\" placeholder=\"key=value\"></label>" as HTML
        }
        let statuses = ReportStatus.allCases.map { status -> HTML in
            let selected: HTML = search.query.status == status ? " selected" : ""
            return "<option value=\"\(status.rawValue)\"\(selected)>\(status.rawValue)</option>"
        }
        let form: HTML = """
            <form class="filters" method="get" action="/search">
            \(field("signature", "Signature contains", placeholder: "CrashFunction"))
            \(field("module", "Module loaded", placeholder: "kernel32.dll"))
            \(field("version", "Version", placeholder: "1.2.3"))\(field("product", "Product", placeholder: "App"))
            \(annotationFields)
            <label>Status <select name="status"><option value="">any</option>\(statuses)</select></label>
            <button type="submit">Search</button></form>
            """
        var content: HTML = """
            <h1>Search reports</h1>
            \(form)
            <p class="hint">Signatures match a part, in any letter case; modules by file name in any letter case; versions, products and annotations exactly.</p>
            """
        if search.hasCriteria || search.query.status != nil {
            let reports = try await parts.database.search(search.query)
            content = """
                \(content)
                <h2>\(reports.total) matching report\(reports.total == 1 ? "" : "s")</h2>
                \(reportTable(reports.items, showSignature: true))
                \(pager(reports.page, perPage: reports.perPage, total: reports.total, base: "/search?" + search.queryString))
                """
        }
        return html(page(title: "Search reports", content))
    }

    func frames(_ frames: [FrameReport]) -> HTML {
        let rows = frames.map { frame -> HTML in
            let location: HTML =
                frame.function.map { function in
                    let offset = frame.functionOffset.map { " + " + $0 } ?? ""
                    let line = frame.file.map { file in " — \(file):\(frame.line.map(String.init) ?? "?")" } ?? ""
                    return "\(frame.module.map { $0 + "!" } ?? "")\(function)\(offset)\(line)"
                } ?? "\(frame.module ?? "???") + \(frame.moduleOffset ?? frame.offset)"
            let inlines = (frame.inlines ?? []).map { "<div class=\"hint\">inlined: \($0.function)</div>" as HTML }
            return """
                <tr><td class="num">\(frame.frame)</td><td class="mono">\(location)\(inlines)</td><td class="mono nowrap">\(frame.offset)</td><td>\(frame.trust)</td></tr>
                """
        }
        return "<table><tr><th class=\"num\">#</th><th>Frame</th><th>Address</th><th>Found by</th></tr>\(rows)</table>"
    }

    /// The crashing thread first and open, the others folded.
    func threads(_ crash: ProcessedCrash) -> HTML {
        let crashing = crash.crashingThread?.threadsIndex
        var sections = [HTML]()
        if let crashing, crash.threads.indices.contains(crashing) {
            let thread = crash.threads[crashing]
            sections.append(
                "<h2>Crashing thread \(thread.threadId)\(thread.threadName.map { " (" + $0 + ")" } ?? "")</h2>\(frames(thread.frames))"
            )
        }
        let others = crash.threads.enumerated().filter { $0.offset != crashing }.map { _, thread -> HTML in
            let warnings = (thread.warnings ?? []).map { "<div class=\"hint\">\($0)</div>" as HTML }
            return """
                <details><summary>Thread \(thread.threadId)\(thread.threadName.map { " (" + $0 + ")" } ?? "") — \(thread.frameCount) frames</summary>\(warnings)\(frames(thread.frames))</details>
                """
        }
        if !others.isEmpty { sections.append("<h2>All threads</h2>\(others)") }
        return "\(sections)"
    }

    /// Modules with their symbol status, and for missing symbols the key to upload them under.
    func modules(_ crash: ProcessedCrash) -> HTML {
        let rows = crash.modules.map { module -> HTML in
            let status: HTML
            if module.loadedSymbols {
                status = "<span class=\"loaded\">loaded</span>"
            } else if module.corruptSymbols {
                status = "<span class=\"missing\">corrupt</span>"
            } else {
                let hint: HTML =
                    if let file = module.debugFile, let id = module.debugId {
                        "<div class=\"hint\">upload <code>\(file)</code>, key <code>\(file)/\(id)/\(file)</code></div>"
                    } else if let code = module.codeId {
                        "<div class=\"hint\">binary key <code>\(module.filename)/\(code)/\(module.filename)</code></div>"
                    } else { "" }
                status = "<span class=\"missing\">missing</span>\(hint)"
            }
            return """
                <tr><td class="mono nowrap">\(module.filename)</td><td class="mono nowrap">\(module.baseAddr)</td><td>\(module.version)</td>
                <td class="mono">\(module.debugFile) \(module.debugId)</td><td>\(status)</td></tr>
                """
        }
        let missing = crash.modules.filter { $0.missingSymbols }.count
        return """
            <h2>Modules</h2><p class="hint">\(crash.modules.count) modules, \(missing) without symbols.</p>
            <table><tr><th>Module</th><th>Base</th><th>Version</th><th>Debug file and id</th><th>Symbols</th></tr>\(rows)</table>
            """
    }
}
