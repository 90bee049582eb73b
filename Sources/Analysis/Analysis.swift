import Minidump
