/// Fetching binaries and symbols along a symbol path: local stores first, then HTTP(S) servers, into a downstream cache.
public enum SymbolClientLayer {}
