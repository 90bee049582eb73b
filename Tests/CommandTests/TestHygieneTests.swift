import Foundation
import TestSupport
import Testing

/// Rules the test sources themselves keep.
@Suite("Test sources", .ownThread)
struct TestHygieneTests {
    /// Every suite runs its tests on threads of their own (see `OwnThreadTrait`): one suite
    /// left on the cooperative pool can starve the servers the other suites test.
    @Test func everySuiteRunsItsTestsOnThreadsOfTheirOwn() throws {
        let root = TestEnvironment.repositoryRoot.appendingPathComponent("Tests").path
        let files = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }
        var suites = 0
        var offenders = [String]()
        for file in files {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let suiteLines = lines.filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("@Suite") }
            suites += suiteLines.count
            for line in suiteLines where !line.contains(".ownThread") { offenders.append("\(file): \(line)") }
            let hasTests = lines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("@Test") }
            if hasTests && suiteLines.isEmpty { offenders.append("\(file): tests outside an @Suite") }
        }
        #expect(suites > 100, "found only \(suites) suites under \(root)")
        #expect(offenders.isEmpty, "\(offenders.joined(separator: "\n"))")
    }
}
