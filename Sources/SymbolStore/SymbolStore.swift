/// Symbol store keys, symbol paths, store layouts, publishing and CAB decompression.
public enum SymbolStoreLayout {}
