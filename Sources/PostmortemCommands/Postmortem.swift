import ArgumentParser
import Foundation

/// The `postmortem` command: post-mortem crash analysis.
public struct Postmortem: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "postmortem",
        abstract: "Post-mortem crash analysis: read dumps, identify their modules, explain crashes.",
        version: "0.1.0",
        subcommands: [
            ModulesCommand.self, DumpCommand.self, MatchCommand.self, RescueCommand.self, SymbolizeCommand.self,
            SymstoreCommand.self, VerifyCommand.self, DumpSymsCommand.self, ServeSymbolsCommand.self, FetchCommand.self,
            AnalyzeCommand.self, ServeCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line, mapping argument errors to exit status 2 and malformed input to 1.
    public static func runMain(arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
