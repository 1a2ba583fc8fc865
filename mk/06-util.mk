# src/util: logging, CRC-32C, the backup file codec and helper-thread start, used by storage, kv, the server
# and (backup_file.c, crc32c.c) the CLI; it includes nothing of ours. Every binary that links storage or kv links $(UTIL_SRC) too.
UTIL_SRC := $(sort $(wildcard src/util/*.c))
