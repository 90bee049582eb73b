/// Symbol providers and conversions between symbol formats (PDB, Breakpad .sym, PE exports and unwind data).
public enum SymbolicationLayer {}
