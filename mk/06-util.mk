# src/util: logging and CRC-32C, used by storage, kv and the server; it includes
# nothing of ours. Every binary that links storage or kv links $(UTIL_SRC) too.
UTIL_SRC := $(sort $(wildcard src/util/*.c))
