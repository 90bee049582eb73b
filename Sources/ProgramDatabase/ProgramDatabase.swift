/// MSF 7.00 program databases (PDB): streams, DBI, symbols, line information.
public enum ProgramDatabaseFormat {}
