import Analysis
import SymbolStore
import TestSupport

/// The symbol path the worker uses in tests: the repository's .sym files, nothing fetched.
enum SymbolLocationsFactory {
    static func localSymbols() -> SymbolLocations {
        SymbolLocations(symbolPath: (try? SymbolPath(parsing: TestEnvironment.local("symbols"))) ?? SymbolPath(entries: []))
    }
}
