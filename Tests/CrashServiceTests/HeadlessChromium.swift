import Foundation
import TestSupport

/// Debian's Chromium run headless on one URL: a screenshot and the DOM as rendered.
struct HeadlessChromium {
    let executable: String

    /// The `chromium` found on `PATH`, or an error that names the Debian package to install.
    static func find() throws -> HeadlessChromium {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/chromium"
            if FileManager.default.isExecutableFile(atPath: candidate) { return HeadlessChromium(executable: candidate) }
        }
        throw ProcessFailure(
            description: "chromium is not installed: the dashboard is tested in a real browser "
                + "(apt-get install chromium, the Debian package; .ci/run installs it)")
    }

    /// A rendered page: its serialized DOM and the PNG screenshot written for it.
    struct Rendering {
        var dom: String
        var screenshot: String
    }

    /// Loads `url` and writes a `width`×`height` screenshot to `screenshot`; one run does both.
    func render(_ url: String, screenshot: String, width: Int = 1280, height: Int = 1600) throws -> Rendering {
        // A profile of its own per run: parallel test processes must not share Chromium's profile lock.
        let profile = NSTemporaryDirectory() + "postmortem-chromium-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let common = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)", "--no-first-run",
            "--window-size=\(width),\(height)",
        ]
        try? FileManager.default.removeItem(atPath: screenshot)
        let dom = try run(common + ["--screenshot=\(screenshot)", "--dump-dom", url])
        return Rendering(dom: dom, screenshot: screenshot)
    }

    /// Runs Chromium with a deadline, standard output into a file (a rendered DOM can be large).
    private func run(_ arguments: [String]) throws -> String {
        let output = NSTemporaryDirectory() + "postmortem-chromium-\(UUID().uuidString).out"
        let errors = output + ".err"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: errors)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // A hung browser must fail the test, not stall the suite; two minutes allow for a loaded machine.
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw ProcessFailure(description: "chromium did not finish within 120 s: \(arguments)")
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw ProcessFailure(description: "chromium exited with \(process.terminationStatus): \(log.suffix(2000))")
        }
        return text
    }
}

/// The parts of a rendered page the dashboard test looks at.
enum RenderedPage {
    /// Every `href` attribute value of `dom`, entities decoded.
    static func links(in dom: String) -> [String] {
        var links = [String]()
        var rest = dom[...]
        while let start = rest.range(of: "href=\"") {
            let value = rest[start.upperBound...]
            guard let end = value.firstIndex(of: "\"") else { break }
            links.append(decodeEntities(String(value[..<end])))
            rest = value[value.index(after: end)...]
        }
        return links
    }

    /// The entities a serialized DOM uses for text and attribute values.
    static func decodeEntities(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&nbsp;", with: "\u{a0}").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The width and height of a PNG's IHDR chunk, or nil when `bytes` is not a PNG.
    static func pngSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        // Signature, then the first chunk: length 13, type IHDR, width and height big-endian.
        guard bytes.count >= 33, Array(bytes[0..<8]) == signature, Array(bytes[8..<12]) == [0, 0, 0, 13],
            Array(bytes[12..<16]) == Array("IHDR".utf8)
        else { return nil }
        func bigEndian(_ offset: Int) -> Int { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (bigEndian(16), bigEndian(20))
    }
}
