# Negative suite (tests/negative): malformed input against a live single-node vesperd;
# limits.sh: start-up in an empty directory and size limits on a three-node cluster.
# build/neg-raftmsg encodes forged peer batches with the real codec.
NEG_RAFTMSG_SRC := tests/negative/raftmsg.c src/net/codec.c src/net/codec_decode.c src/kv/kv_cmd.c src/kv/kv_txn.c
$(BUILD)/neg-raftmsg: $(call obj,$(NEG_RAFTMSG_SRC)) $(BUILD)/libraftcore.a
	$(CC) $^ -o $@

# build/neg-mksnap writes a valid snapshot file for a played leader to send.
NEG_MKSNAP_SRC := tests/negative/mksnap.c $(KV_SRC) $(UTIL_SRC)
$(BUILD)/neg-mksnap: $(call obj,$(NEG_MKSNAP_SRC)) $(BUILD)/libstorage.a $(BUILD)/libraftcore.a
	$(CC) $^ -lpthread -o $@

TEST_BINS += $(BUILD)/neg-raftmsg $(BUILD)/neg-mksnap $(BUILD)/vesperd $(BUILD)/vesper
TEST_SUITES += "python3 tests/negative/negative.py" "tests/negative/disk_full.sh" \
               "tests/negative/limits.sh"
# True answers (leader changes, SIGTERM, hung-up clients) against one vesperd whose
# peer the script plays; the client history is checked by build/lincheck.
TEST_SUITES += "python3 tests/negative/answers.py"
