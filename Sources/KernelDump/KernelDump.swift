/// Windows kernel crash dumps (PAGEDUMP / PAGEDU64) and legacy full user-mode dumps (USERDUMP / USERDU64).
public enum KernelDumpFormat {}
