/// The SymSrv-compatible symbol server and caching proxy (`postmortem serve-symbols`).
public enum SymbolServerLayer {}
