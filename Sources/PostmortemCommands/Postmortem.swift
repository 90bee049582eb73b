import ArgumentParser

/// The `postmortem` command: post-mortem crash analysis.
public struct Postmortem: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "postmortem",
        abstract: "Post-mortem crash analysis: read dumps, find their modules and symbols, explain crashes.",
        subcommands: []
    )
    public init() {}
}
