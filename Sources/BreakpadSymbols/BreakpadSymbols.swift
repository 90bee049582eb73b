/// Breakpad text symbol files (.sym): reading and writing every record.
public enum BreakpadSymbolFormat {}
