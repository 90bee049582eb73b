import ArgumentParser
import Foundation
import SymbolStore

/// `postmortem symstore add|del|query`: publish to and query a symbol store, as Microsoft's symstore does.
struct SymstoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "symstore",
        abstract: "Publish binaries and symbols into a symbol store, delete transactions, and query keys (symstore syntax).",
        subcommands: [Add.self, Delete.self, Query.self]
    )

    /// `symstore add`.
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add files (PE, PDB, .sym, ELF) to a store in one transaction.",
            discussion: """
                Writes <file>/<key>/<file> for each file, 000Admin (the transaction file, server.txt, history.txt, \
                lastid.txt), pingme.txt and refs.ptr, as symstore does. Files are written atomically and publishers \
                take a lock on the store, so concurrent publishers cannot corrupt it.
                """
        )

        @Flag(name: .customShort("r"), help: "Add folders recursively.")
        var recursive = false

        @Option(name: .customShort("f"), parsing: .upToNextOption, help: "Files or folders to add.")
        var files: [String]

        @Option(name: .customShort("s"), help: "The store's root folder.")
        var store: String

        @Option(name: .customShort("t"), help: "The product name recorded in the transaction.")
        var product: String

        @Option(name: .customShort("v"), help: "The product version.")
        var version: String = ""

        @Option(name: .customShort("c"), help: "A comment.")
        var comment: String = ""

        @Flag(help: "Store files compressed (one-file CAB, MSZIP), named with a trailing _.")
        var compress = false

        @Flag(help: "Store file.ptr pointers to the files instead of copies.")
        var pointer = false

        func validate() throws {
            if compress && pointer { throw ValidationError("--compress and --pointer exclude each other") }
        }

        func run() throws {
            let options = StorePublisher.AddOptions(
                recursive: recursive, product: product, version: version, comment: comment, compress: compress, pointer: pointer)
            do {
                let result = try StorePublisher(root: store).add(files, options: options)
                write("Transaction \(String(format: "%010d", result.transactionID)): \(result.entries.count) files added\n")
                for entry in result.entries { write("  \(entry.fileName)\\\(entry.index)  \(entry.sourcePath)\n") }
                for skipped in result.skipped { printError("postmortem: skipped \(skipped.path): \(skipped.reason)") }
            } catch {
                printError("postmortem: \(error)")
                throw ExitStatus.malformedInput
            }
        }
    }

    /// `symstore del`.
    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "del", abstract: "Delete a transaction's files from a store.")

        @Option(name: .customShort("i"), help: "The transaction id (as in history.txt).")
        var id: Int

        @Option(name: .customShort("s"), help: "The store's root folder.")
        var store: String

        func run() throws {
            do {
                let deletion = try StorePublisher(root: store).delete(transactionID: id)
                write("Transaction \(String(format: "%010d", deletion)) deleted transaction \(String(format: "%010d", id))\n")
            } catch {
                printError("postmortem: \(error)")
                throw ExitStatus.malformedInput
            }
        }
    }

    /// `symstore query`.
    struct Query: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query", abstract: "Say whether files are in a store, and under which key.",
            discussion: "Exit status: 0 when every file was found, 3 when some were not.")

        @Flag(name: .customShort("r"), help: "Query folders recursively.")
        var recursive = false

        @Option(name: .customShort("f"), parsing: .upToNextOption, help: "Files or folders to look up.")
        var files: [String]

        @Option(name: .customShort("s"), help: "The store's root folder.")
        var store: String

        func run() throws {
            let results = StorePublisher(root: store).query(files, recursive: recursive)
            var missing = false
            for result in results {
                guard let key = result.key else {
                    write("\(result.path): not a file a store keeps\n")
                    missing = true
                    continue
                }
                switch result.hit {
                case .file(let path)?: write("\(result.path): \(key.path) found at \(path)\n")
                case .compressed(let path)?: write("\(result.path): \(key.path) found compressed at \(path)\n")
                case .pointer(let pointer, let path)?:
                    write("\(result.path): \(key.path) found as pointer \(path) -> \(pointer)\n")
                case nil:
                    write("\(result.path): \(key.path) not in the store\n")
                    missing = true
                }
            }
            if missing { throw ExitStatus.someModulesUnmatched }
        }
    }
}
