# vesperd-san: vesperd from the same sources under ASan+UBSan (-fno-sanitize-recover), linked
# dynamically (ASan cannot be static) against the instrumented libh2o-evloop-san.a; json-c,
# OpenSSL and zlib are the system shared libraries. The cluster suite, the negative suite and
# the stress scenario run it (tests/cluster/lib.sh and tests/negative/negative.py pick it up
# from $VESPERD), each setting ASAN_OPTIONS/UBSAN_OPTIONS to log into its run directory, and
# scanning the sanitizer logs after every run.
VESPERD_SAN_LIBS := $(H2O_SAN_LIB) -ljson-c -lssl -lcrypto -lz -lpthread -lm

$(BUILD)/vesperd-san: $(call san,$(VESPERD_SRC) $(RAFT_SRC)) $(H2O_SAN_LIB)
	$(CC) $(TEST_LDFLAGS) $(call san,$(VESPERD_SRC) $(RAFT_SRC)) $(VESPERD_SAN_LIBS) -o $@

TEST_BINS += $(BUILD)/vesperd-san

# The cluster suite runs it by default (tests/cluster/lib.sh).
test-cluster: $(BUILD)/vesperd-san
